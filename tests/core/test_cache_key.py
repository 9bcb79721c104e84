"""The read-path DEK cache key: ENV-13 and ENV-14."""

from __future__ import annotations

import hashlib
import itertools

from sandbox.core.cache_key import cache_key_material, dek_cache_key


def test_layout_without_annotations() -> None:
    material = cache_key_material(1, b"EDEK", "k1", {})
    assert material == b"\x00\x00\x00\x01" + b"\x00\x04EDEK" + b"\x00\x02k1"
    assert dek_cache_key(1, b"EDEK", "k1", {}) == hashlib.sha256(material).digest()


def test_layout_with_sorted_annotations() -> None:
    material = cache_key_material(0, b"E", "k", {"b.io": b"2", "a.io": b"11"})
    assert material == (
        b"\x00\x00\x00\x00\x00\x01E\x00\x01k"
        + b"\x00\x00\x00\x02"
        + b"\x00\x04a.io\x00\x0211"
        + b"\x00\x04b.io\x00\x012"
    )


def test_env14_keys_equal_iff_inputs_equal() -> None:
    types = [0, 1]
    edeks = [b"", b"a", b"ab", b"\x00\x01a"]
    key_ids = ["", "a", "ab"]
    annotations: list[dict[str, bytes]] = [
        {},
        {"a.io": b""},
        {"a.io": b"b"},
        {"a.io": b"", "b.io": b""},
        {"ab.io": b""},
    ]
    inputs = list(itertools.product(types, edeks, key_ids, range(len(annotations))))
    keys = {inp: dek_cache_key(inp[0], inp[1], inp[2], annotations[inp[3]]) for inp in inputs}
    assert len(set(keys.values())) == len(inputs)
    assert all(len(k) == 32 for k in keys.values())


def test_env13_same_ciphertext_different_annotation_differs() -> None:
    a = dek_cache_key(0, b"same", "1", {"encrypted-dek.kms.kubernetes.io": b"dek-1"})
    b = dek_cache_key(0, b"same", "1", {"encrypted-dek.kms.kubernetes.io": b"dek-2"})
    assert a != b


def test_length_prefix_prevents_concatenation_collisions() -> None:
    assert dek_cache_key(0, b"ab", "c", {}) != dek_cache_key(0, b"a", "bc", {})
