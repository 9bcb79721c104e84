"""The pure keyring: wrap/unwrap properties, rotation, retirement, serialisation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.core.keyring import (
    MAX_CIPHERTEXT_BYTES,
    BadInputError,
    Keyring,
    KeyringError,
    RetireCurrentError,
    TamperedCiphertextError,
    UnknownKeyIdError,
)

RING = Keyring.new(now=1000.0)
plaintexts = st.binary(min_size=1, max_size=512)


@settings(deadline=None, max_examples=200)
@given(plaintexts)
def test_wrap_unwrap_round_trip(plaintext: bytes) -> None:
    ciphertext, key_id = RING.wrap(plaintext)
    assert key_id == RING.current_id
    assert plaintext not in ciphertext or len(plaintext) < 4
    assert RING.unwrap(ciphertext, key_id) == plaintext
    assert len(ciphertext) <= MAX_CIPHERTEXT_BYTES


@settings(deadline=None, max_examples=300)
@given(plaintexts, st.data())
def test_any_flipped_bit_fails_authentication(plaintext: bytes, data: st.DataObject) -> None:
    ciphertext, key_id = RING.wrap(plaintext)
    bit = data.draw(st.integers(0, len(ciphertext) * 8 - 1))
    tampered = bytearray(ciphertext)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(TamperedCiphertextError, match="failed authentication under key_id"):
        RING.unwrap(bytes(tampered), key_id)


@settings(deadline=None, max_examples=50)
@given(st.binary(min_size=1, max_size=64))
def test_wrap_is_randomised(plaintext: bytes) -> None:
    assert RING.wrap(plaintext)[0] != RING.wrap(plaintext)[0]


def test_32_byte_dek_wraps_to_60_bytes() -> None:
    ciphertext, _ = RING.wrap(bytes(32))
    assert len(ciphertext) == 60


def test_key_id_is_bound_as_associated_data() -> None:
    ring = Keyring.new(now=1.0)
    old = ring.current_id
    ciphertext, _ = ring.wrap(b"k" * 32)
    ring.rotate(now=2.0)
    # Same KEK bytes cannot be reached through another id: the AAD check fails first.
    forged = Keyring(
        keks={"forged": ring.keks[old].__class__("forged", ring.keks[old].key, 1.0)},
        current_id="forged",
        serial=9,
    )
    with pytest.raises(TamperedCiphertextError):
        forged.unwrap(ciphertext, "forged")
    assert ring.unwrap(ciphertext, old) == b"k" * 32


def test_rotation_keeps_old_keys_and_never_reuses_ids() -> None:
    ring = Keyring.new(now=1.0)
    first = ring.current_id
    wrapped, _ = ring.wrap(b"a" * 32)
    seen = {first}
    for i in range(20):
        kek = ring.rotate(now=2.0 + i)
        assert kek.key_id not in seen
        seen.add(kek.key_id)
        assert ring.current_id == kek.key_id
    assert ring.unwrap(wrapped, first) == b"a" * 32
    assert ring.wrap(b"b")[1] == ring.current_id
    assert [k.split("-")[1] for k in ring.keks] == [str(n) for n in range(1, 22)]


def test_retire_loses_data_and_refuses_current() -> None:
    ring = Keyring.new(now=1.0)
    first = ring.current_id
    wrapped, _ = ring.wrap(b"a" * 32)
    with pytest.raises(RetireCurrentError, match="refusing to retire the current KEK"):
        ring.retire(first)
    ring.rotate(now=2.0)
    ring.retire(first)
    with pytest.raises(UnknownKeyIdError, match="was retired"):
        ring.unwrap(wrapped, first)
    with pytest.raises(UnknownKeyIdError, match="no KEK with key_id"):
        ring.retire(first)
    assert ring.retired == [first]


@pytest.mark.parametrize(
    ("ciphertext", "key_id", "error", "match"),
    [
        (b"x" * 60, "kek-99-00000000", UnknownKeyIdError, "unknown key_id"),
        (b"x" * 60, "", BadInputError, "key_id is required"),
        (b"", None, BadInputError, "ciphertext is empty"),
        (b"x" * 1025, None, BadInputError, "1025 bytes; expected at most 1024"),
        (b"x" * 10, None, TamperedCiphertextError, "shorter than the 29-byte minimum"),
    ],
)
def test_unwrap_rejects_bad_input(
    ciphertext: bytes, key_id: str | None, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        RING.unwrap(ciphertext, RING.current_id if key_id is None else key_id)


def test_wrap_rejects_empty_and_oversized() -> None:
    with pytest.raises(BadInputError, match="plaintext is empty"):
        RING.wrap(b"")
    with pytest.raises(BadInputError, match="513 bytes; expected at most 512"):
        RING.wrap(b"x" * 513)


def test_serialisation_round_trip_through_json() -> None:
    ring = Keyring.new(now=1.0)
    ring.rotate(now=2.0)
    ring.rotate(now=3.0)
    ring.retire(next(iter(ring.keks)))
    wrapped, key_id = ring.wrap(b"z" * 32)
    again = Keyring.from_dict(json.loads(json.dumps(ring.to_dict())))
    assert again.current_id == ring.current_id
    assert again.retired == ring.retired
    assert again.serial == 3
    assert again.unwrap(wrapped, key_id) == b"z" * 32
    assert again.rotate(now=4.0).key_id.startswith("kek-4-")


def test_key_material_never_in_repr() -> None:
    kek = RING.current
    assert kek.key.hex() not in repr(kek)
    assert kek.key.hex() not in repr(RING)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(format=7), "unsupported keyring format 7"),
        (lambda d: d.pop("keks"), "damaged keyring: KeyError"),
        (lambda d: d.update(current="kek-404"), "current key_id 'kek-404' has no KEK"),
        (lambda d: d["keks"][0].update(key="AAAA"), "is 3 bytes; expected 32"),
    ],
)
def test_damaged_dicts_are_refused(mutate: object, match: str) -> None:
    data = Keyring.new(now=1.0).to_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(KeyringError, match=match):
        Keyring.from_dict(data)
