"""AES-GCM transformers: upstream scenarios AES-1..AES-5 plus the short-data error texts."""

from __future__ import annotations

import struct
import threading

import pytest

from sandbox.core import aead
from sandbox.core.errors import DecryptError, NonceOverflowError, ValidationError

KEY32 = b"abcdefghijklmnopabcdefghijklmnop"

# AES-4: ciphertexts recorded by upstream (aes_test.go, TestGCMLegacyDataCompatibility and
# TestExtendedNonceGCMLegacyDataCompatibility), converted from Go string literals to hex.
LEGACY_GCM_KEY = b"snorlax_awesomes"
LEGACY_GCM_CT = bytes.fromhex(
    "9f27c8fcea8a58c467d8e437dbf2d85955f9b4bd912f4ef967d788a0cb07797dac0a3f0a0845605ca85ac8562b4ae1"
)
LEGACY_SEED = bytes.fromhex("5d40323a820ff95561675e3b95e81867c5fdd561d35a88a2d08b08aa9d4fcf5c")
LEGACY_XNONCE_CT = bytes.fromhex(
    "2442759e33945fbad709db577a0f037fd8a709fc76979b8942209debcecb9d57efe3d6ff6a1ef6ee9a5003b983"
    "3b3043cec1e47b35175b151107a8d2416b0e296bbf66b5d102fcefdf9a78f293d271"
)


def test_aes4_recorded_gcm_ciphertext_decrypts() -> None:
    assert aead.gcm_decrypt(LEGACY_GCM_KEY, LEGACY_GCM_CT, b"bamboo") == b"pandas are the best"


def test_aes4_recorded_extended_nonce_ciphertext_decrypts() -> None:
    assert LEGACY_SEED[:4] == b"]@2:"
    assert aead.ExtendedNonceGCM(LEGACY_SEED).decrypt(LEGACY_XNONCE_CT, b"bamboo") == b"pandas are the best"


def test_aes4_wrong_aad_fails_authentication() -> None:
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        aead.gcm_decrypt(LEGACY_GCM_KEY, LEGACY_GCM_CT, b"bamboo2")
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        aead.ExtendedNonceGCM(LEGACY_SEED).decrypt(LEGACY_XNONCE_CT, b"panda")


def test_aes1_counter_from_zero_counts_up() -> None:
    t = aead.CounterNonceGCM(KEY32, counter=0)
    first, second = t.encrypt(b"a", b"x"), t.encrypt(b"b", b"x")
    assert aead.counter_from_nonce(first[:12]) == 1
    assert aead.counter_from_nonce(second[:12]) == 2
    assert t.counter == 2


def test_aes1_counter_wrap_is_fatal() -> None:
    t = aead.CounterNonceGCM(KEY32, counter=2**64 - 2)
    out = t.encrypt(b"a", b"x")
    assert aead.counter_from_nonce(out[:12]) == 2**64 - 1
    with pytest.raises(NonceOverflowError) as exc:
        t.encrypt(b"b", b"x")
    assert str(exc.value) == "aes-gcm detected nonce overflow - cryptographic wear out has occurred"
    # The transformer stays dead: a second attempt fails the same way and never reuses a nonce.
    with pytest.raises(NonceOverflowError):
        t.encrypt(b"c", b"x")


def test_production_counter_first_write_is_1_000_000_001() -> None:
    t = aead.CounterNonceGCM(KEY32)
    out = t.encrypt(b"data", b"/registry/secrets/a/b")
    assert struct.unpack("<Q", out[4:12])[0] == 1_000_000_001
    assert len(out) == 12 + 4 + 16


def test_aes2_sequential_counter_and_random_prefix() -> None:
    t = aead.CounterNonceGCM(KEY32, counter=0)
    for i in range(1000):
        out = t.encrypt(bytes([i % 8]) * 100, b"authenticated_data")
        assert out[:4] != b"\x00\x00\x00\x00"
        assert aead.counter_from_nonce(out[:12]) == i + 1


def test_aes2_concurrent_writes_use_each_counter_once() -> None:
    t = aead.CounterNonceGCM(KEY32, counter=0)
    seen: list[int] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        out = t.encrypt(bytes([i % 8]) * 64, b"authenticated_data")
        assert t.decrypt(out, b"authenticated_data") == bytes([i % 8]) * 64
        with lock:
            seen.append(aead.counter_from_nonce(out[:12]))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(1000)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(seen) == list(range(1, 1001))


def test_aes2_extended_nonce_info_and_nonce_not_zero() -> None:
    t = aead.ExtendedNonceGCM(KEY32)
    for _ in range(200):
        out = t.encrypt(b"x", b"aad")
        assert out[:32] != bytes(32)
        assert out[32:44] != bytes(12)


def test_aes3_counter_output_decrypts_with_plain_gcm() -> None:
    t = aead.CounterNonceGCM(KEY32)
    out = t.encrypt(b"firstvalue", b"authenticated_data")
    assert aead.gcm_decrypt(KEY32, out, b"authenticated_data") == b"firstvalue"


def test_aes5_nonce_size_is_12_in_both_modes() -> None:
    assert aead.NONCE_SIZE == 12
    assert len(aead.random_nonce_gcm_encrypt(KEY32, b"", b"")) == 12 + 16
    assert len(aead.ExtendedNonceGCM(KEY32).encrypt(b"", b"")) == 32 + 12 + 16


def test_extended_nonce_uses_hkdf_expand_only() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    t = aead.ExtendedNonceGCM(KEY32)
    out = t.encrypt(b"secret", b"/registry/x")
    info, nonce, sealed = out[:32], out[32:44], out[44:]
    key = aead.hkdf_expand_key(KEY32, info)
    assert AESGCM(key).decrypt(nonce, sealed, b"/registry/x") == b"secret"
    assert t.derive_key(info) == key


@pytest.mark.parametrize("size", [16, 24, 32])
def test_reader_accepts_all_aes_key_sizes(size: int) -> None:
    key = bytes(range(size))
    assert aead.gcm_decrypt(key, aead.random_nonce_gcm_encrypt(key, b"v", b"k"), b"k") == b"v"


def test_bad_key_size_is_reported_like_go() -> None:
    with pytest.raises(ValidationError, match=r"^crypto/aes: invalid key size 5$"):
        aead.gcm_decrypt(b"12345", bytes(40), b"")


def test_short_data_errors() -> None:
    with pytest.raises(DecryptError, match=r"^the stored data was shorter than the required size$"):
        aead.gcm_decrypt(KEY32, b"short", b"")
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        aead.gcm_decrypt(KEY32, bytes(20), b"")
    t = aead.ExtendedNonceGCM(KEY32)
    with pytest.raises(DecryptError, match=r"^the stored data is missing the required info prefix$"):
        t.decrypt(bytes(31), b"")
    with pytest.raises(DecryptError, match=r"^the stored data was shorter than the required size$"):
        t.decrypt(bytes(40), b"")


@pytest.mark.parametrize("n", [0, 16, 31])
def test_short_seed_is_rejected(n: int) -> None:
    with pytest.raises(ValidationError, match=rf"^invalid seed length {n} used for key generation$"):
        aead.ExtendedNonceGCM(bytes(n))


def test_longer_seed_is_accepted() -> None:
    t = aead.ExtendedNonceGCM(bytes(range(48)))
    assert t.decrypt(t.encrypt(b"v", b"k"), b"k") == b"v"
