"""Which bytes of an etcd value belong to which field, for the hex view's colours.

The inspector says what a value contains (prefix, key_id, payload sizes); this maps those parts
back onto byte offsets by walking the protobuf wire format (tag and length varints) of the
EncryptedObject. It never interprets a value differently from the inspector: sizes of the payload
parts come from the report's layout. Malformed bytes end the walk early, never raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport, PayloadLayout

KMS_V2_FIELDS = {
    1: "encrypted_data",
    2: "key_id",
    3: "encrypted_dek_source",
    4: "annotations",
    5: "dek_source_type",
}
"""EncryptedObject field numbers (spec 3.2) to the names the legend shows."""


@dataclass(frozen=True)
class Segment:
    """Bytes [start, end) of the value belong to field `name`."""

    name: str
    start: int
    end: int


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decodes a protobuf varint at `pos`; returns (value, next position). Raises IndexError/ValueError."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def payload_segments(layout: PayloadLayout | None, start: int, end: int) -> list[Segment]:
    """info ‖ nonce ‖ ciphertext ‖ tag, as the report's layout sized them, inside [start, end)."""
    if layout is None:
        return [Segment("ciphertext", start, end)]
    parts = (
        ("info", layout.info_size),
        ("nonce", layout.nonce_size),
        ("ciphertext", layout.ciphertext_size),
        ("gcm_tag", layout.tag_size),
    )
    out, pos = [], start
    for name, size in parts:
        if size > 0:
            out.append(Segment(name, pos, min(pos + size, end)))
            pos += size
    return out


def _kms_v2_segments(raw: bytes, pos: int, layout: PayloadLayout | None) -> list[Segment]:
    out: list[Segment] = []
    try:
        while pos < len(raw):
            tag_start = pos
            key, pos = _varint(raw, pos)
            number, wire_type = key >> 3, key & 7
            name = KMS_V2_FIELDS.get(number, f"field_{number}")
            if wire_type == 2:
                length, pos = _varint(raw, pos)
                out.append(Segment("protobuf", tag_start, pos))
                end = min(pos + length, len(raw))
                if number == 1:
                    out.extend(payload_segments(layout, pos, end))
                else:
                    out.append(Segment(name, pos, end))
                pos = end
            elif wire_type == 0:
                _, end = _varint(raw, pos)
                out.append(Segment("protobuf", tag_start, pos))
                out.append(Segment(name, pos, end))
                pos = end
            else:
                break  # not something EncryptedObject contains: leave the rest uncoloured
    except (IndexError, ValueError):
        pass
    return out


def value_segments(raw: bytes, report: InspectReport) -> list[Segment]:
    """Segments covering the parts of `raw` the report identified, in byte order."""
    prefix = report.prefix.encode()
    start = len(prefix) if prefix and raw.startswith(prefix) else 0
    out = [Segment("prefix", 0, start)] if start else []
    if report.kind == "kms-v2":
        out.extend(_kms_v2_segments(raw, start, report.layout))
    elif report.kind == "kms-v1" and len(raw) >= start + 2:
        edek_end = start + 2 + len(report.encrypted_dek_source)
        out.append(Segment("length", start, start + 2))
        out.append(Segment("encrypted_dek_source", start + 2, edek_end))
        out.extend(payload_segments(report.layout, edek_end, len(raw)))
    elif report.layout is not None:
        out.extend(payload_segments(report.layout, start, len(raw)))
    return [s for s in out if s.end > s.start]
