"""The byte map of a KMS v2 value covers every byte exactly once, with the right labels."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.core import aead, kmsv2_format
from sandbox.core.errors import DecodeError
from sandbox.core.value_map import value_map
from tests.core.vectors import load_legacy_vector


def assert_contiguous(value: bytes) -> None:
    spans = value_map(value)
    assert spans[0].start == 0
    assert spans[-1].end == len(value)
    for left, right in itertools.pairwise(spans):
        assert left.end == right.start


def test_vector_map() -> None:
    value = bytes.fromhex(load_legacy_vector()["value_hex"])
    spans = value_map(value)
    assert_contiguous(value)
    by_group = {s.group: s for s in spans}
    assert by_group["tag"].length == 16
    assert by_group["ciphertext"].length == 366
    assert any("counter 1,000,000,001" in s.label for s in spans)


def test_seed_mode_map() -> None:
    data = aead.ExtendedNonceGCM(bytes(32)).encrypt(b"hello", b"k")
    value = kmsv2_format.encode_value("p", kmsv2_format.EncryptedObject(data, "1", b"e", {"a.io": b"v"}, 1))
    spans = value_map(value)
    assert_contiguous(value)
    assert [s.group for s in spans if s.group in ("info", "nonce", "ciphertext", "tag")] == [
        "info",
        "nonce",
        "ciphertext",
        "tag",
    ]
    assert spans[-1].label == "field 5 encryptedDEKSourceType (varint)"


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=100),
    key_id=st.text(min_size=1, max_size=10),
    edek=st.binary(min_size=1, max_size=50),
    kind=st.sampled_from([0, 1]),
)
def test_map_always_covers_the_value(data: bytes, key_id: str, edek: bytes, kind: int) -> None:
    assert_contiguous(
        kmsv2_format.encode_value("p", kmsv2_format.EncryptedObject(data, key_id, edek, {}, kind))
    )


@pytest.mark.parametrize("value", [b"plain", b"k8s:enc:kms:v2:p:\x0a\x09abc"])
def test_malformed(value: bytes) -> None:
    with pytest.raises(DecodeError):
        value_map(value)
