"""The read-side caches of the KMS v2 transformer (kmsv2-spec.md 3.6, 4.5; scenarios ENV-1, CACHE-3).

* `ExpiringCache` (1.27+): decrypted DEK/seed transformers keyed by `dek_cache_key`, 24 h TTL,
  unbounded. Like `k8s.io/apimachinery` `cache.Expiring` with `AllowExpiredGet`: an expired
  entry is still served until a later insert runs garbage collection.
* `LruCache` (1.25/1.26, and KMS v1): `cachesize` entries, least recently used evicted.
* `SeedReader`: the read transformer of a seed, with upstream's derived-key cache (per seed,
  keyed by etcd key, 10 min TTL, a hit used only when the stored info matches).
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sandbox.core.aead import (
    ERR_AUTH,
    ERR_MISSING_INFO,
    ERR_SHORT,
    INFO_SIZE,
    MIN_SEED_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    gcm_decrypt,
    hkdf_expand_key,
)
from sandbox.core.errors import DecryptError, ValidationError

V = TypeVar("V")

DEK_CACHE_TTL = 24 * 3600.0
DERIVED_KEY_TTL = 600.0


class ExpiringCache(Generic[V]):
    """Key → value with a TTL per insert; expired entries stay readable until the next insert's GC."""

    def __init__(
        self, clock: Callable[[], float], ttl: float = DEK_CACHE_TTL, allow_expired_get: bool = True
    ) -> None:
        self._now = clock
        self.ttl = ttl
        self.allow_expired_get = allow_expired_get
        self._entries: dict[bytes, tuple[V, float]] = {}
        self._expiries: list[tuple[float, int, bytes]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> V | None:
        entry = self._entries.get(key)
        if entry is None or (not self.allow_expired_get and entry[1] < self._now()):
            return None
        return entry[0]

    def set(self, key: bytes, value: V) -> int:
        """Inserts (or refreshes) and garbage-collects expired entries; returns the new size."""
        if not key:
            raise ValueError("cache key must not be empty")
        now = self._now()
        self._gc(now)
        expires = now + self.ttl
        old = self._entries.get(key)
        self._entries[key] = (value, expires)
        if old is None or expires < old[1]:
            # One heap entry per key: a refresh to a later expiry (every write refreshes the write
            # seed) only moves it in `_entries`; GC re-files a heap entry it finds out of date.
            heapq.heappush(self._expiries, (expires, next(self._seq), key))
        return len(self._entries)

    def _gc(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] < now:
            _, _, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry[1] < now:
                del self._entries[key]
            else:  # refreshed since it was filed
                heapq.heappush(heap, (entry[1], next(self._seq), key))

    def clear(self) -> None:
        self._entries.clear()
        self._expiries.clear()


class LruCache(Generic[V]):
    """At most `size` entries; a negative size disables caching (KMS v1 `cachesize: -1`)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def set(self, key: bytes, value: V) -> int:
        if self.size <= 0:
            return 0
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class AesGcmReader:
    """The read-only transformer of an AES_GCM_KEY DEK (16, 24 or 32-byte keys, as aes.NewCipher)."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValidationError(f"crypto/aes: invalid key size {len(key)}")
        self._key = key

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        return gcm_decrypt(self._key, data, aad)


class SeedReader:
    """The read-only transformer of an HKDF seed, with the per-seed derived-key cache."""

    def __init__(self, seed: bytes, clock: Callable[[], float]) -> None:
        if len(seed) < MIN_SEED_SIZE:
            raise ValidationError(f"invalid seed length {len(seed)} used for key generation")
        self._seed = seed
        self._now = clock
        # (info, derived key) per etcd key. The key bytes, not an AESGCM object: a used AESGCM
        # keeps an OpenSSL context (~2.4 KB), 240 MB at 100,000 objects; a fresh one costs ~1 us.
        self._derived: ExpiringCache[tuple[bytes, bytes]] = ExpiringCache(
            clock, DERIVED_KEY_TTL, allow_expired_get=False
        )

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if len(data) < INFO_SIZE:
            raise DecryptError(ERR_MISSING_INFO)
        info, rest = data[:INFO_SIZE], data[INFO_SIZE:]
        cached = self._derived.get(aad)
        if cached is not None and cached[0] == info:
            key = cached[1]
        else:
            try:
                key = hkdf_expand_key(self._seed, info)
            except Exception as exc:
                raise DecryptError(f"failed to derive read key from KDF: {exc}") from None
            self._derived.set(aad or b"\x00", (info, key))
        aead = AESGCM(key)
        if len(rest) < NONCE_SIZE:
            raise DecryptError(ERR_SHORT)
        if len(rest) < NONCE_SIZE + TAG_SIZE:
            raise DecryptError(ERR_AUTH)
        try:
            return aead.decrypt(rest[:NONCE_SIZE], rest[NONCE_SIZE:], aad)
        except InvalidTag:
            raise DecryptError(ERR_AUTH) from None
