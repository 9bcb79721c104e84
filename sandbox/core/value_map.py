"""A byte map of a stored KMS v2 value: which bytes are the prefix, which the nonce, which the tag.

For teaching: `value_map(value)` returns contiguous spans covering the whole value, each with a
label, so a hex view can colour them (the UI) and docs/storage-format.md can walk through the
recorded vector. Only the prefix and protobuf framing are parsed; nothing is decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.core import aead, kmsv2_format
from sandbox.core.errors import DecodeError

_FIELD_NAMES = {
    1: "encryptedData",
    2: "keyID",
    3: "encryptedDEKSource",
    4: "annotations entry",
    5: "encryptedDEKSourceType",
}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    """Exclusive."""
    label: str
    group: str
    """"prefix", "framing", "nonce", "info", "ciphertext", "tag", "field"."""

    @property
    def length(self) -> int:
        return self.end - self.start


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DecodeError("truncated protobuf varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _data_spans(start: int, data: bytes, seed_mode: bool) -> list[Span]:
    spans: list[Span] = []
    pos = start
    if seed_mode:
        n = min(aead.INFO_SIZE, len(data))
        spans.append(Span(pos, pos + n, "HKDF info (32 random bytes)", "info"))
        pos += n
        data = data[n:]
    nonce = min(aead.NONCE_SIZE, len(data))
    if seed_mode or nonce < aead.NONCE_SIZE:
        spans.append(Span(pos, pos + nonce, "nonce (12 random bytes)", "nonce"))
    else:
        counter = aead.counter_from_nonce(data[: aead.NONCE_SIZE])
        spans.append(Span(pos, pos + 4, "nonce: 4 random bytes", "nonce"))
        spans.append(Span(pos + 4, pos + 12, f"nonce: counter {counter:,} (uint64 little-endian)", "nonce"))
    pos += nonce
    sealed = len(data) - nonce
    tag = min(aead.TAG_SIZE, sealed)
    if sealed - tag:
        spans.append(Span(pos, pos + sealed - tag, "ciphertext", "ciphertext"))
    if tag:
        spans.append(Span(pos + sealed - tag, pos + sealed, "GCM tag (16 bytes)", "tag"))
    return spans


def value_map(value: bytes) -> list[Span]:
    """Spans covering a KMS v2 value from its first to its last byte; DecodeError if malformed."""
    name, payload = kmsv2_format.split_value(value)
    obj = kmsv2_format.decode_encrypted_object(payload)
    seed_mode = obj.dek_source_type == kmsv2_format.HKDF_SHA256_XNONCE_AES_GCM_SEED
    head = len(kmsv2_format.PREFIX_BYTES)
    spans = [
        Span(0, head, "KMS v2 prefix k8s:enc:kms:v2:", "prefix"),
        Span(head, head + len(name.encode()) + 1, f"provider name {name!r} and ':'", "prefix"),
    ]
    base = spans[-1].end
    pos = 0
    while pos < len(payload):
        tag_start = pos
        tag, pos = _varint(payload, pos)
        number, wire = tag >> 3, tag & 7
        label = _FIELD_NAMES.get(number, f"unknown field {number}")
        if wire == 0:
            _, pos = _varint(payload, pos)
            spans.append(Span(base + tag_start, base + pos, f"field {number} {label} (varint)", "field"))
            continue
        if wire != 2:
            raise DecodeError(f"unexpected protobuf wire type {wire} in EncryptedObject")
        length, body = _varint(payload, pos)
        spans.append(
            Span(base + tag_start, base + body, f"field {number} {label}: tag + length {length}", "framing")
        )
        end = body + length
        if end > len(payload):
            raise DecodeError("truncated EncryptedObject field")
        if number == 1:
            spans.extend(_data_spans(base + body, payload[body:end], seed_mode))
        elif length:
            spans.append(Span(base + body, base + end, label, "field"))
        pos = end
    return spans
