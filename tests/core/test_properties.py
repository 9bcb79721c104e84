"""Hypothesis properties of the formats and the crypto (house style 5.6, tests/property)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.core import aead, cache_key, k8s_objects, kmsv1_format, kmsv2_format, local_providers
from sandbox.core.errors import DecodeError, DecryptError, ValidationError
from sandbox.core.inspect import inspect_value, parse_input

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys32 = st.binary(min_size=32, max_size=32)
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
plaintexts = st.binary(max_size=512)
aads = st.binary(max_size=64)
names = st.text(st.characters(exclude_characters=":", exclude_categories=["Cs"]), min_size=1, max_size=20)
annotation_keys = st.from_regex(r"[a-z0-9]{1,8}\.[a-z]{2,5}", fullmatch=True)
encrypted_objects = st.builds(
    kmsv2_format.EncryptedObject,
    encrypted_data=st.binary(min_size=1, max_size=200),
    key_id=st.text(min_size=1, max_size=40),
    encrypted_dek_source=st.binary(min_size=1, max_size=100),
    annotations=st.dictionaries(annotation_keys, st.binary(max_size=30), max_size=4),
    dek_source_type=st.sampled_from([0, 1]),
)


def _flip(data: bytes, index: int, bit: int) -> bytes:
    i = index % len(data)
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]


# --- round trips ----------------------------------------------------------------------------


@FAST
@given(key=aes_keys, plaintext=plaintexts, aad=aads)
def test_counter_gcm_round_trip(key: bytes, plaintext: bytes, aad: bytes) -> None:
    t = aead.CounterNonceGCM(key)
    assert t.decrypt(t.encrypt(plaintext, aad), aad) == plaintext


@FAST
@given(seed=keys32, plaintext=plaintexts, aad=aads)
def test_extended_nonce_round_trip(seed: bytes, plaintext: bytes, aad: bytes) -> None:
    t = aead.ExtendedNonceGCM(seed)
    assert aead.ExtendedNonceGCM(seed).decrypt(t.encrypt(plaintext, aad), aad) == plaintext


@FAST
@given(provider=st.sampled_from(local_providers.LOCAL_PROVIDERS), key=keys32, plaintext=plaintexts, aad=aads)
def test_local_provider_round_trip(provider: str, key: bytes, plaintext: bytes, aad: bytes) -> None:
    value = local_providers.encrypt_value(provider, "k", key, plaintext, aad)
    assert local_providers.decrypt_value(key, value, aad) == plaintext


@FAST
@given(obj=encrypted_objects, name=names)
def test_encrypted_object_parse_serialize_identity(obj: kmsv2_format.EncryptedObject, name: str) -> None:
    raw = kmsv2_format.encode_encrypted_object(obj)
    assert kmsv2_format.decode_encrypted_object(raw) == obj
    assert kmsv2_format.encode_encrypted_object(kmsv2_format.decode_encrypted_object(raw)) == raw
    value = kmsv2_format.encode_value(name, obj)
    assert kmsv2_format.decode_value(value) == (name, obj)
    parsed_name, parsed = kmsv2_format.decode_value(value)
    assert kmsv2_format.encode_value(parsed_name, parsed) == value


@FAST
@given(name=names, edek=st.binary(max_size=300), data=st.binary(max_size=100))
def test_kms_v1_value_identity(name: str, edek: bytes, data: bytes) -> None:
    value = kmsv1_format.encode_v1_value(name, edek, data)
    assert kmsv1_format.split_v1_value(value) == (name, edek, data)


@FAST
@given(
    namespace=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    name=st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True),
    data=st.dictionaries(st.text(min_size=1, max_size=10), st.binary(max_size=40), max_size=5),
    ts=st.integers(min_value=0, max_value=2**40),
)
def test_secret_storage_round_trip(namespace: str, name: str, data: dict[str, bytes], ts: int) -> None:
    obj = k8s_objects.StoredObject(
        kind="Secret", namespace=namespace, name=name, data=data, creation_timestamp=ts, type="Opaque"
    )
    raw = k8s_objects.encode_object(obj)
    assert k8s_objects.decode_object(raw) == obj
    assert k8s_objects.encode_object(k8s_objects.decode_object(raw)) == raw


# --- tampering ------------------------------------------------------------------------------


@FAST
@given(key=keys32, plaintext=plaintexts, aad=aads, index=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_fails_authentication_counter_mode(
    key: bytes, plaintext: bytes, aad: bytes, index: int, bit: int
) -> None:
    sealed = aead.CounterNonceGCM(key).encrypt(plaintext, aad)
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        aead.gcm_decrypt(key, _flip(sealed, index, bit), aad)


@FAST
@given(seed=keys32, plaintext=plaintexts, aad=aads, index=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_fails_authentication_seed_mode(
    seed: bytes, plaintext: bytes, aad: bytes, index: int, bit: int
) -> None:
    t = aead.ExtendedNonceGCM(seed)
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        t.decrypt(_flip(t.encrypt(plaintext, aad), index, bit), aad)


@FAST
@given(
    provider=st.sampled_from(["aesgcm", "secretbox"]),
    key=keys32,
    plaintext=plaintexts,
    aad=aads,
    index=st.integers(min_value=0),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_fails_authenticated_local_providers(
    provider: str, key: bytes, plaintext: bytes, aad: bytes, index: int, bit: int
) -> None:
    data = local_providers.ENCRYPT[provider](key, plaintext, aad)
    with pytest.raises(DecryptError):
        local_providers.DECRYPT[provider](key, _flip(data, index, bit), aad)


@FAST
@given(seed=keys32, plaintext=plaintexts, aad=aads, other=aads)
def test_wrong_aad_fails(seed: bytes, plaintext: bytes, aad: bytes, other: bytes) -> None:
    if aad == other:
        return
    t = aead.ExtendedNonceGCM(seed)
    with pytest.raises(DecryptError):
        t.decrypt(t.encrypt(plaintext, aad), other)


# --- uniqueness -----------------------------------------------------------------------------


def test_nonces_never_repeat_over_many_writes() -> None:
    t = aead.CounterNonceGCM(bytes(32))
    nonces = {t.encrypt(b"x", b"k")[:12] for _ in range(20_000)}
    assert len(nonces) == 20_000


def test_infos_and_nonces_never_repeat_in_seed_mode() -> None:
    t = aead.ExtendedNonceGCM(bytes(32))
    outs = [t.encrypt(b"x", b"k") for _ in range(5_000)]
    assert len({o[:32] for o in outs}) == len(outs)
    assert len({o[32:44] for o in outs}) == len(outs)


cache_inputs = st.tuples(
    st.sampled_from([0, 1]),
    st.binary(max_size=8),
    st.text(max_size=4),
    st.dictionaries(annotation_keys, st.binary(max_size=4), max_size=2),
)


@FAST
@given(a=cache_inputs, b=cache_inputs)
def test_cache_keys_equal_iff_inputs_equal(
    a: tuple[int, bytes, str, dict[str, bytes]], b: tuple[int, bytes, str, dict[str, bytes]]
) -> None:
    assert (cache_key.dek_cache_key(*a) == cache_key.dek_cache_key(*b)) == (a == b)


# --- robustness on arbitrary bytes ----------------------------------------------------------

prefixes = st.sampled_from(
    [b"", b"k8s:enc:kms:v2:", b"k8s:enc:kms:v2:p:", b"k8s:enc:kms:v1:p:", b"k8s\x00", b"{"]
)


@settings(max_examples=300, deadline=None)
@given(head=prefixes, body=st.binary(max_size=300))
def test_parsers_raise_only_decode_error(head: bytes, body: bytes) -> None:
    data = head + body
    for fn in (
        kmsv2_format.decode_encrypted_object,
        kmsv2_format.decode_value,
        kmsv1_format.split_v1_value,
        k8s_objects.decode_object,
        inspect_value,
    ):
        try:
            fn(data)
        except DecodeError:
            pass
    for fmt in ("auto", "raw", "hex", "base64", "etcdctl-json"):
        try:
            parse_input(data, fmt)
        except DecodeError:
            pass


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_parse_input_on_arbitrary_text(text: str) -> None:
    try:
        pairs = parse_input(text)
    except DecodeError:
        return
    for _, value in pairs:
        try:
            inspect_value(value)
        except DecodeError:
            pass


@FAST
@given(obj=encrypted_objects)
def test_validation_raises_only_validation_error(obj: kmsv2_format.EncryptedObject) -> None:
    try:
        kmsv2_format.validate_encrypted_object(obj)
    except ValidationError:
        pass
