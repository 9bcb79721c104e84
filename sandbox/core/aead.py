"""The AES-GCM transformers behind KMS v2 `encryptedData` (kmsv2-spec.md 3.5 to 3.7).

Three write modes, one read rule each:

* `CounterNonceGCM` (AES_GCM_KEY, 1.27+): one DEK serves many writes, so the nonce must never
  repeat. Bytes 0..3 are random, bytes 4..11 a little-endian 64-bit counter that starts at
  1,000,000,000 and is incremented *before* use. A wrap is fatal upstream.
* `ExtendedNonceGCM` (HKDF_SHA256_XNONCE_AES_GCM_SEED, 1.28+): the plugin wraps a seed, and every
  write derives a fresh AES-256 key with HKDF-Expand(SHA-256, seed, info = 32 random bytes).
  Layout `info(32) || nonce(12) || ciphertext || tag(16)`.
* `random_nonce_gcm_encrypt` (1.25/1.26, and the aesgcm provider): random 12-byte nonce.

Readers treat the first 12 bytes (after the info in seed mode) as an opaque nonce. All error
texts are the Go ones, so the simulator can surface them verbatim. Pure: no I/O besides the
OS random generator.
"""

from __future__ import annotations

import os
import struct
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from sandbox.core.errors import DecryptError, NonceOverflowError, ValidationError

NONCE_SIZE = 12
TAG_SIZE = 16
INFO_SIZE = 32
"""Random HKDF info bytes prepended to every seed-mode ciphertext."""
MIN_SEED_SIZE = 32
DEK_SIZE = 32
COUNTER_START = 1_000_000_000
"""Upstream starts the counter here so a wrap (any value at or below the start) is detectable."""
MAX_COUNTER = 2**64 - 1
AES_KEY_SIZES = (16, 24, 32)

ERR_SHORT = "the stored data was shorter than the required size"
ERR_MISSING_INFO = "the stored data is missing the required info prefix"
ERR_AUTH = "cipher: message authentication failed"
ERR_NONCE_OVERFLOW = "aes-gcm detected nonce overflow - cryptographic wear out has occurred"


def _aes_gcm(key: bytes) -> AESGCM:
    if len(key) not in AES_KEY_SIZES:
        # Go's crypto/aes text: NewCipher accepts exactly AES-128/192/256 keys.
        raise ValidationError(f"crypto/aes: invalid key size {len(key)}")
    return AESGCM(key)


def gcm_decrypt(key: bytes, data: bytes, aad: bytes) -> bytes:
    """Open `nonce(12) || ciphertext || tag` with AES-GCM; AES-128/192/256 keys are accepted."""
    aead = _aes_gcm(key)
    if len(data) < NONCE_SIZE:
        raise DecryptError(ERR_SHORT)
    if len(data) < NONCE_SIZE + TAG_SIZE:
        # Go's gcm.Open rejects a too-short sealed box with the generic authentication error.
        raise DecryptError(ERR_AUTH)
    try:
        return aead.decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], aad)
    except InvalidTag:
        raise DecryptError(ERR_AUTH) from None


def random_nonce_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """The 1.25/1.26 (and aesgcm provider) layout: a fully random 12-byte nonce per write."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + _aes_gcm(key).encrypt(nonce, plaintext, aad)


def counter_from_nonce(nonce: bytes) -> int:
    """The little-endian counter held in bytes 4..11 of an AES_GCM_KEY-mode nonce."""
    if len(nonce) < NONCE_SIZE:
        raise DecryptError(ERR_SHORT)
    value: int = struct.unpack("<Q", nonce[4:NONCE_SIZE])[0]
    return value


class CounterNonceGCM:
    """AES-GCM with a DEK reused across writes and a counter nonce (AES_GCM_KEY mode)."""

    def __init__(self, key: bytes, counter: int = COUNTER_START) -> None:
        if not 0 <= counter <= MAX_COUNTER:
            raise ValidationError(f"nonce counter {counter} is outside 0..2^64-1")
        self._aead = _aes_gcm(key)
        self._key = key
        self._start = counter
        self._counter = counter
        self._lock = threading.Lock()

    @property
    def key(self) -> bytes:
        return self._key

    @property
    def counter(self) -> int:
        """The value carried by the most recent write (the start value before any write)."""
        return self._counter

    def _next_nonce(self) -> bytes:
        with self._lock:
            value = (self._counter + 1) & MAX_COUNTER
            if value <= self._start:
                # Upstream calls its fatal hook here: reusing a (key, nonce) pair breaks GCM.
                raise NonceOverflowError(ERR_NONCE_OVERFLOW)
            self._counter = value
        return os.urandom(4) + struct.pack("<Q", value)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = self._next_nonce()
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        return gcm_decrypt(self._key, data, aad)


def hkdf_expand_key(seed: bytes, info: bytes) -> bytes:
    """HKDF-Expand only (no Extract, no salt): SHA-256, PRK = seed, length 32."""
    return HKDFExpand(algorithm=hashes.SHA256(), length=DEK_SIZE, info=info).derive(seed)


class ExtendedNonceGCM:
    """Seed mode: a fresh HKDF-derived AES-256 key and random nonce on every write."""

    _CACHE_LIMIT = 1024

    def __init__(self, seed: bytes) -> None:
        if len(seed) < MIN_SEED_SIZE:
            raise ValidationError(f"invalid seed length {len(seed)} used for key generation")
        self._seed = seed
        # Reads of the same value repeat the same derivation; a small memo avoids redoing it.
        self._derived: dict[bytes, AESGCM] = {}
        self._lock = threading.Lock()

    @property
    def seed(self) -> bytes:
        return self._seed

    def derive_key(self, info: bytes) -> bytes:
        return hkdf_expand_key(self._seed, info)

    def _aead_for(self, info: bytes) -> AESGCM:
        with self._lock:
            aead = self._derived.get(info)
        if aead is None:
            aead = AESGCM(self.derive_key(info))
            with self._lock:
                if len(self._derived) >= self._CACHE_LIMIT:
                    self._derived.clear()
                self._derived[info] = aead
        return aead

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        info = os.urandom(INFO_SIZE)
        nonce = os.urandom(NONCE_SIZE)
        # Writes never reuse an info, so caching their derived key would only waste memory.
        aead = AESGCM(self.derive_key(info))
        return info + nonce + aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if len(data) < INFO_SIZE:
            raise DecryptError(ERR_MISSING_INFO)
        info, rest = data[:INFO_SIZE], data[INFO_SIZE:]
        if len(rest) < NONCE_SIZE:
            raise DecryptError(ERR_SHORT)
        if len(rest) < NONCE_SIZE + TAG_SIZE:
            raise DecryptError(ERR_AUTH)
        try:
            return self._aead_for(info).decrypt(rest[:NONCE_SIZE], rest[NONCE_SIZE:], aad)
        except InvalidTag:
            raise DecryptError(ERR_AUTH) from None
