"""The KMS v2 envelope transformer (kmsv2-spec.md 3.5-3.8, 4.4-4.6; scenarios ENV-1..4, ENV-13).

Write (1.27+): take the probe's write state (never primed → `got unexpected nil transformer`;
expired → the expiry error), put its transformer into the decrypt cache so this server never
needs Decrypt for its own writes, encrypt locally, wrap in an `EncryptedObject`. No plugin call.

Read: decode and validate the `EncryptedObject`; need a primed state; look the DEK/seed up in
the cache by (type, encryptedDEKSource, keyID, annotations); on a miss call Decrypt in the
request path. Stale when the keyID (1.27+) or type (1.28+) differs from the write state.

1.25/1.26 (`per-write`): each write makes a DEK and calls Encrypt; reads use an LRU of
`cachesize` keyed by the wrapped DEK; never key-stale.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from typing import Protocol

from sandbox.core.aead import DEK_SIZE, random_nonce_gcm_encrypt
from sandbox.core.cache_key import dek_cache_key
from sandbox.core.errors import SandboxError
from sandbox.core.events import DekCacheChanged, Event
from sandbox.core.kmsv2_format import (
    AES_GCM_KEY,
    DEK_SOURCE_TYPE_NAMES,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    decode_encrypted_object,
    encode_encrypted_object,
    validate_encrypted_object,
)
from sandbox.core.releases import ReleaseProfile
from sandbox.sim.clock import Clock
from sandbox.sim.dek_cache import AesGcmReader, ExpiringCache, LruCache, SeedReader
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.kms_link import EncryptReply, KmsCallError, new_uid
from sandbox.sim.kmsv2_probe import KmsV2Probe, StateError
from sandbox.sim.transformers import ReadResult, Transformer, TransformError, WriteResult

Reader = AesGcmReader | SeedReader
MAX_REMEMBERED_HEADERS = 4096


class DecryptService(Protocol):
    async def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> bytes: ...

    async def encrypt(self, plaintext: bytes, uid: str) -> EncryptReply: ...


class KmsV2Transformer(Transformer):
    """`k8s:enc:kms:v2:<name>:` — one per provider per apiserver, sharing the provider's probe."""

    def __init__(
        self,
        name: str,
        probe: KmsV2Probe,
        service: DecryptService,
        *,
        clock: Clock,
        release: ReleaseProfile,
        metrics: ApiserverMetrics,
        emit: Callable[[Event], None],
        source: str = "apiserver-0",
        cachesize: int = 1000,
    ) -> None:
        self.provider = name
        self.probe = probe
        self.service = service
        self.clock = clock
        self.release = release
        self.metrics = metrics
        self._emit = emit
        self.source = source
        self.cache: ExpiringCache[Reader] | LruCache[Reader]
        if release.cache_kind == "lru":
            self.cache = LruCache(cachesize)
        else:
            self.cache = ExpiringCache(clock.now)
        self.decrypt_calls = 0
        self._valid_headers: dict[tuple[int, bytes, str, tuple[tuple[str, bytes], ...]], bytes] = {}
        """Headers of stored objects that passed validation, with their DEK cache key."""

    # --- write -------------------------------------------------------------------------------

    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        if self.probe.per_write:
            return await self._write_per_write(plaintext, aad)
        try:
            state = self.probe.current_state()
        except StateError as exc:
            raise TransformError(str(exc)) from None
        expired = self.probe.expiry_error(state, self.clock.now())
        if expired:
            raise TransformError(expired)
        size = self.cache.set(state.cache_key, state.reader)
        self.metrics.record_dek_source_cache_size(self.provider, size)
        try:
            data = state.transformer.encrypt(plaintext, aad)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        template = state.encrypted_object
        obj = EncryptedObject(
            data,
            template.key_id,
            template.encrypted_dek_source,
            template.annotations,
            template.dek_source_type,
        )
        self.metrics.record_key_id("to_storage", self.provider, obj.key_id, self.clock.now())
        return WriteResult(
            value=encode_encrypted_object(obj),
            provider=self.provider,
            key_id=obj.key_id,
            dek_source_type=DEK_SOURCE_TYPE_NAMES[obj.dek_source_type],
        )

    async def _write_per_write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        dek = os.urandom(DEK_SIZE)
        uid = new_uid()
        try:
            reply = await self.service.encrypt(dek, uid)
        except KmsCallError as exc:
            raise TransformError(f"failed to encrypt DEK, error: {exc}", exc.code) from None
        data = random_nonce_gcm_encrypt(dek, plaintext, aad)
        obj = EncryptedObject(data, reply.key_id, reply.ciphertext, reply.annotations, AES_GCM_KEY)
        try:
            validate_encrypted_object(obj, strict=self.release.strict_limits)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        size = self.cache.set(base64.b64encode(reply.ciphertext), AesGcmReader(dek))
        self._record_fill(size)
        return WriteResult(
            value=encode_encrypted_object(obj),
            provider=self.provider,
            key_id=obj.key_id,
            dek_source_type="AES_GCM_KEY",
        )

    def _record_fill(self, size: int) -> None:
        if isinstance(self.cache, LruCache) and self.cache.size > 0:
            self.metrics.dek_cache_fill_percent.set(size / self.cache.size)

    # --- read --------------------------------------------------------------------------------

    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        try:
            obj = decode_encrypted_object(data)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        if not self.release.encrypted_object_has_type and obj.dek_source_type != AES_GCM_KEY:
            # Before 1.28 field 5 did not exist: the reader ignores it and treats the seed as a DEK.
            obj = EncryptedObject(obj.encrypted_data, obj.key_id, obj.encrypted_dek_source, obj.annotations)
        header = (
            obj.dek_source_type,
            obj.encrypted_dek_source,
            obj.key_id,
            tuple(sorted(obj.annotations.items())),
        )
        key = self._valid_headers.get(header)
        if key is None or not obj.encrypted_data:
            # First sight of this (type, EDEK, keyID, annotations), or a broken payload: validate it
            # all. Thousands of objects share one header, and its checks and cache key (FQDN
            # regexes, SHA-256) give the same answer every time, so later reads reuse them.
            try:
                validate_encrypted_object(obj, strict=self.release.strict_limits)
            except SandboxError as exc:
                # The read path returns the validation error bare (seen on v1.37.2); only the
                # write-side state check says "got invalid EncryptedObject: ...".
                raise TransformError(str(exc)) from None
            key = self._cache_key(obj)
            if len(self._valid_headers) >= MAX_REMEMBERED_HEADERS:
                self._valid_headers.clear()
            self._valid_headers[header] = key
        state = None
        if not self.probe.per_write:
            try:
                state = self.probe.current_state()
            except StateError as exc:
                raise TransformError(str(exc)) from None
        reader = self.cache.get(key)
        hit = reader is not None
        if not hit:
            # Hits are on every StorageRead (dek_cache_hit); misses are rare and worth their own event.
            self._emit(
                DekCacheChanged(
                    time=self.clock.now(),
                    source=self.source,
                    provider=self.provider,
                    action="miss",
                    size=len(self.cache),
                )
            )
        if reader is None:
            reader = await self._fetch(obj, key)
        if self.release.envelope_metrics:
            self.metrics.record_key_id("from_storage", self.provider, obj.key_id, self.clock.now())
        try:
            plaintext = reader.decrypt(obj.encrypted_data, aad)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        stale = False
        if state is not None:
            stale = (self.release.key_id_staleness and obj.key_id != state.key_id) or (
                self.release.type_staleness and obj.dek_source_type != state.dek_source_type
            )
        return ReadResult(
            plaintext=plaintext,
            stale=stale,
            provider=self.provider,
            key_id=obj.key_id,
            dek_cache_hit=hit,
            dek_source_type=DEK_SOURCE_TYPE_NAMES[obj.dek_source_type],
        )

    def _cache_key(self, obj: EncryptedObject) -> bytes:
        """The DEK cache key: base64 of the wrapped DEK (1.25/1.26), else upstream's hashed key."""
        if self.probe.per_write:
            return base64.b64encode(obj.encrypted_dek_source)
        return dek_cache_key(obj.dek_source_type, obj.encrypted_dek_source, obj.key_id, obj.annotations)

    async def _fetch(self, obj: EncryptedObject, key: bytes) -> Reader:
        """Cache miss: one Decrypt in the request path, then cache the read transformer."""
        self.metrics.record_cache_miss()
        self.decrypt_calls += 1
        try:
            source = await self.service.decrypt(
                obj.encrypted_dek_source, new_uid(), obj.key_id, obj.annotations
            )
        except KmsCallError as exc:
            raise TransformError(f"failed to decrypt DEK, error: {exc}", exc.code) from None
        try:
            reader: Reader = (
                SeedReader(source, self.clock.now)
                if obj.dek_source_type == HKDF_SHA256_XNONCE_AES_GCM_SEED
                else AesGcmReader(source)
            )
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        size = self.cache.set(key, reader)
        if self.probe.per_write:
            self._record_fill(size)
        else:
            self.metrics.record_dek_source_cache_size(self.provider, size)
        self._emit(
            DekCacheChanged(
                time=self.clock.now(), source=self.source, provider=self.provider, action="insert", size=size
            )
        )
        return reader

    def clear_cache(self) -> None:
        self.cache.clear()

    async def close(self) -> None:
        self.probe.close()
        close = getattr(self.service, "close", None)
        if close is not None:
            await close()
