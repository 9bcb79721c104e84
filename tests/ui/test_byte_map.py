"""The hex view's field map: real KMS v2 values map exactly; arbitrary bytes never break it."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.core.errors import DecodeError
from sandbox.core.inspect import inspect_value
from sandbox.core.kmsv2_format import (
    AES_GCM_KEY,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    encode_value,
)
from sandbox.ui.byte_map import Segment, value_segments

VECTOR = Path("/work/shared/vectors/kmsv2-legacy-aes-gcm-key.json")


def check_tiling(raw: bytes, segments: list[Segment]) -> None:
    """Segments are in order, inside the value and never overlap."""
    position = 0
    for seg in segments:
        assert position <= seg.start < seg.end <= len(raw)
        position = seg.end


def sizes(segments: list[Segment]) -> dict[str, int]:
    out: dict[str, int] = {}
    for seg in segments:
        out[seg.name] = out.get(seg.name, 0) + seg.end - seg.start
    return out


@settings(deadline=None)
@given(
    key_id=st.text(min_size=1, max_size=40),
    dek=st.binary(min_size=1, max_size=300),
    payload=st.binary(min_size=61, max_size=600),
    seed_mode=st.booleans(),
    annotations=st.dictionaries(
        st.from_regex(r"[a-z]{1,8}\.example\.io", fullmatch=True), st.binary(max_size=20), max_size=3
    ),
)
def test_a_kms_v2_value_is_covered_field_by_field(
    key_id: str, dek: bytes, payload: bytes, seed_mode: bool, annotations: dict[str, bytes]
) -> None:
    obj = EncryptedObject(
        encrypted_data=payload,
        key_id=key_id,
        encrypted_dek_source=dek,
        annotations=annotations,
        dek_source_type=HKDF_SHA256_XNONCE_AES_GCM_SEED if seed_mode else AES_GCM_KEY,
    )
    raw = encode_value("kms-provider", obj)
    segments = value_segments(raw, inspect_value(raw))
    check_tiling(raw, segments)
    # Everything is coloured, and each field gets exactly its bytes.
    assert sum(s.end - s.start for s in segments) == len(raw)
    found = sizes(segments)
    assert found["prefix"] == len("k8s:enc:kms:v2:kms-provider:")
    assert found["key_id"] == len(key_id.encode())
    assert found["encrypted_dek_source"] == len(dek)
    assert found["info"] if seed_mode else "info" not in found
    assert found["nonce"] == 12 and found["gcm_tag"] == 16
    assert found.get("dek_source_type", 0) == (1 if seed_mode else 0)
    assert raw[segments[-1].end - 1 :] == raw[-1:]


def test_the_recorded_upstream_vector_maps_onto_its_fields() -> None:
    vector = json.loads(VECTOR.read_text())
    raw = bytes.fromhex(vector["value_hex"])
    segments = value_segments(raw, inspect_value(raw))
    check_tiling(raw, segments)
    found = sizes(segments)
    assert found["key_id"] == 1  # key_id "1"
    assert found["nonce"] + found["ciphertext"] + found["gcm_tag"] == 394  # encryptedData
    assert found["annotations"] > len("local-kek.kms.kubernetes.io")


@settings(deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_from_the_map(raw: bytes) -> None:
    try:
        report = inspect_value(b"k8s:enc:kms:v2:p:" + raw)
    except DecodeError:
        return
    check_tiling(b"k8s:enc:kms:v2:p:" + raw, value_segments(b"k8s:enc:kms:v2:p:" + raw, report))
