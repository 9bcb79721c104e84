"""KMS v1 for contrast: a DEK and an Encrypt per write, an LRU of `cachesize` (spec 2.9, 3.10, 11).

Value: `k8s:enc:kms:v1:<name>:` + uint16 BE length + wrapped DEK + AES-GCM `nonce||ct||tag`.
Every write makes a fresh DEK and calls Encrypt; every cold read calls Decrypt, so after a
restart N objects cost N Decrypt calls (the startup cost KMS v2's seed removes). The health
probe is a real Encrypt("ping") followed by Decrypt, cached 20 s / 3 s like the v2 probe.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sandbox.core.aead import DEK_SIZE, gcm_decrypt, random_nonce_gcm_encrypt
from sandbox.core.errors import SandboxError
from sandbox.core.events import DekCacheChanged, Event, StatusProbed
from sandbox.core.kmsv1_format import encode_v1_value, split_v1_value
from sandbox.sim.clock import Clock
from sandbox.sim.dek_cache import LruCache
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.kms_link import KmsCallError, KmsV1Link
from sandbox.sim.kmsv2_probe import NEGATIVE_TTL, POSITIVE_TTL
from sandbox.sim.transformers import ReadResult, Transformer, TransformError, WriteResult

PING = b"ping"


class KmsV1Probe:
    """kmsPluginProbe: Encrypt("ping"), then Decrypt, with the same result cache as v2."""

    def __init__(
        self, name: str, link: KmsV1Link, *, clock: Clock, emit: Callable[[Event], None], source: str
    ) -> None:
        self.name = name
        self.link = link
        self.clock = clock
        self._emit = emit
        self.source = source
        self._last_error: str | None = None
        self._last_received = float("-inf")
        self._ttl = 0.0

    async def check(self) -> str | None:
        now = self.clock.now()
        if now - self._last_received < self._ttl:
            return self._last_error
        error: str | None = None
        try:
            cipher = await self.link.encrypt(PING)
        except KmsCallError as exc:
            self._remember(str(exc), NEGATIVE_TTL)
            error = f"{self._section('encrypt')}, error: {exc}"
        else:
            try:
                plain = await self.link.decrypt(cipher)
            except KmsCallError as exc:
                self._remember(str(exc), NEGATIVE_TTL)
                error = f"{self._section('decrypt')}, error: {exc}"
            else:
                if plain != PING:
                    error = f"{self._section('decrypt')}, error: the plugin's Decrypt did not return the ping"
                    self._remember(error, NEGATIVE_TTL)
                else:
                    self._remember(None, POSITIVE_TTL)
        self._emit(
            StatusProbed(
                time=self.clock.now(),
                source=self.source,
                provider=self.name,
                ok=error is None,
                error=error or "",
            )
        )
        return error

    def _section(self, which: str) -> str:
        return f"failed to perform {which} section of the healthz check for KMS Provider {self.name}"

    def _remember(self, error: str | None, ttl: float) -> None:
        self._last_error = error
        self._last_received = self.clock.now()
        self._ttl = ttl


class KmsV1Transformer(Transformer):
    """`k8s:enc:kms:v1:<name>:` (the chain strips the prefix; the length-prefixed body is ours)."""

    def __init__(
        self,
        name: str,
        link: KmsV1Link,
        *,
        clock: Clock,
        metrics: ApiserverMetrics,
        emit: Callable[[Event], None],
        source: str,
        cachesize: int = 1000,
    ) -> None:
        self.provider = name
        self.link = link
        self.clock = clock
        self.metrics = metrics
        self._emit = emit
        self.source = source
        self.cache: LruCache[bytes] = LruCache(cachesize)
        self._prefix = f"k8s:enc:kms:v1:{name}:".encode()

    def _fill(self, size: int) -> None:
        if self.cache.size > 0:
            self.metrics.dek_cache_fill_percent.set(size / self.cache.size)

    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        dek = os.urandom(DEK_SIZE)
        try:
            edek = await self.link.encrypt(dek)
        except KmsCallError as exc:
            raise TransformError(str(exc), exc.code) from None
        self._fill(self.cache.set(edek, dek))
        data = random_nonce_gcm_encrypt(dek, plaintext, aad)
        value = encode_v1_value(self.provider, edek, data)[len(self._prefix) :]
        return WriteResult(value=value, provider=self.provider)

    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        try:
            _, edek, body = split_v1_value(self._prefix + data)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        dek = self.cache.get(edek)
        hit = dek is not None
        if dek is None:
            self.metrics.record_cache_miss()
            self._emit(
                DekCacheChanged(
                    time=self.clock.now(),
                    source=self.source,
                    provider=self.provider,
                    action="miss",
                    size=len(self.cache),
                )
            )
            try:
                dek = await self.link.decrypt(edek)
            except KmsCallError as exc:
                raise TransformError(str(exc), exc.code) from None
            self._fill(self.cache.set(edek, dek))
        try:
            plaintext = gcm_decrypt(dek, body, aad)
        except SandboxError as exc:
            raise TransformError(str(exc)) from None
        return ReadResult(plaintext=plaintext, provider=self.provider, dek_cache_hit=hit)

    def clear_cache(self) -> None:
        self.cache.clear()

    async def close(self) -> None:
        await self.link.close()
