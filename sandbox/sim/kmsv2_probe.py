"""The KMS v2 probe and write state of one provider (kmsv2-spec.md 4.2, 4.3; scenarios CFG-7..11).

The probe is the only thing that calls Status, and (1.27+) the only thing that calls Encrypt:

* it primes inline when the provider is built; a failure is not fatal, and on 1.28+ a 10 s retry
  loop then runs until a probe succeeds, next to a 1-minute poll that drops to 10 s while failing;
* a result is reused for 20 s when good and 3 s when failed. The first failure returns the
  wrapped text (`failed to perform status section ...`), later cached answers the raw gRPC error;
* every Status with a valid key_id runs `rotate_dek_on_key_id_change`: extend the write expiry
  (now + 3 min) when the key_id and mode are unchanged, else make a new DEK/seed with one Encrypt.
  A failed rotation keeps the old state, which keeps serving writes until it expires (coasting).

1.25/1.26 had no write state (a new DEK and Encrypt per write) and checked Status only for
health; `per_write` covers that.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sandbox.core.aead import DEK_SIZE, CounterNonceGCM, ExtendedNonceGCM
from sandbox.core.cache_key import dek_cache_key
from sandbox.core.errors import SandboxError
from sandbox.core.events import Event, StatusProbed, WriteStateExtended, WriteStateRotated
from sandbox.core.hashing import key_id_hash
from sandbox.core.kmsv2_format import (
    AES_GCM_KEY,
    DEK_SOURCE_TYPE_NAMES,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    validate_encrypted_object,
)
from sandbox.core.releases import ReleaseProfile
from sandbox.core.validation import aggregate, key_id_error_code, validate_key_id
from sandbox.sim.clock import Clock, TimerHandle
from sandbox.sim.dek_cache import AesGcmReader, SeedReader
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.kms_link import EncryptReply, KmsCallError, StatusReply, new_uid

POSITIVE_INTERVAL = 60.0
NEGATIVE_INTERVAL = 10.0
WRITE_DEK_MAX_TTL = 180.0
POSITIVE_TTL = 20.0
NEGATIVE_TTL = 3.0
NIL_TRANSFORMER = "got unexpected nil transformer"


class EnvelopeService(Protocol):
    """What the probe needs of the plugin link (`KmsV2Link` in production)."""

    async def status(self) -> StatusReply: ...

    async def encrypt(self, plaintext: bytes, uid: str) -> EncryptReply: ...


def rfc3339(ts: float) -> str:
    """Go's time.RFC3339 in UTC; the zero time prints as 0001-01-01T00:00:00Z."""
    if ts <= 0:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WriteState:
    """The DEK/seed that serves writes, as produced by one successful Encrypt."""

    transformer: CounterNonceGCM | ExtendedNonceGCM
    encrypted_object: EncryptedObject
    """keyID, encryptedDEKSource, annotations and type every write copies (data is a placeholder)."""
    uid: str
    expiration: float
    cache_key: bytes
    reader: AesGcmReader | SeedReader
    """The read side of the same DEK/seed, which writes put into the decrypt cache."""

    @property
    def key_id(self) -> str:
        return self.encrypted_object.key_id

    @property
    def dek_source_type(self) -> int:
        return self.encrypted_object.dek_source_type


class StateError(Exception):
    """The state cannot serve (never primed); the message is upstream's."""


class KmsV2Probe:
    """Health probe and write-state owner for one `apiVersion: v2` provider of one apiserver."""

    def __init__(
        self,
        name: str,
        service: EnvelopeService,
        *,
        clock: Clock,
        release: ReleaseProfile,
        metrics: ApiserverMetrics,
        emit: Callable[[Event], None],
        source: str = "apiserver-0",
        feature_gates: Mapping[str, bool] | None = None,
    ) -> None:
        self.name = name
        self.service = service
        self.clock = clock
        self.release = release
        self.metrics = metrics
        self._emit = emit
        self.source = source
        self.feature_gates = dict(feature_gates or {})
        self.state: WriteState | None = None
        self.api_version = ""
        self._last_error: str | None = None
        self._last_received = float("-inf")
        self._ttl = 0.0
        self._timers: list[TimerHandle] = []
        self._fast_loop_running = False
        self._closed = False

    # --- mode ----------------------------------------------------------------------------------

    @property
    def per_write(self) -> bool:
        """1.25/1.26: no write state; every write makes its own DEK and calls Encrypt."""
        return self.release.dek_strategy(self.feature_gates) == "per-write"

    @property
    def use_seed(self) -> bool:
        return self.release.dek_strategy(self.feature_gates) == "seed"

    def set_feature_gates(self, gates: Mapping[str, bool]) -> None:
        """Flips e.g. KMSv2KDF at runtime (the INT-3 step 9 switch); the next probe re-keys."""
        self.feature_gates = dict(gates)

    # --- state ---------------------------------------------------------------------------------

    def current_state(self) -> WriteState:
        """getCurrentState: the write state, or the upstream error when there is none."""
        if self.state is None:
            raise StateError(NIL_TRANSFORMER)
        return self.state

    def expiry_error(self, state: WriteState, now: float) -> str | None:
        """The write-path expiry check (spec 4.4 step 2)."""
        if now <= state.expiration:
            return None
        when, current = rfc3339(state.expiration), rfc3339(now)
        if self.release.error_key_id_form == "raw":
            return f'EDEK with keyID "{state.key_id}" expired at {when} (current time is {current})'
        return (
            f'encryptedDEKSource with keyID hash "{key_id_hash(state.key_id)}" expired at {when} '
            f"(current time is {current})"
        )

    # --- the health check ----------------------------------------------------------------------

    async def check(self) -> str | None:
        """One probe: None when healthy, else the error text the health check reports."""
        now = self.clock.now()
        if now - self._last_received < self._ttl:
            self._emit(
                StatusProbed(
                    time=now,
                    source=self.source,
                    provider=self.name,
                    ok=self._last_error is None,
                    error=self._last_error or "",
                    cached=True,
                )
            )
            return self._last_error
        try:
            reply = await self.service.status()
        except KmsCallError as exc:
            self._remember(str(exc), NEGATIVE_TTL)
            error = (
                "failed to perform status section of the healthz check for KMS Provider "
                f"{self.name}, error: {exc}"
            )
            self._emit(
                StatusProbed(
                    time=self.clock.now(), source=self.source, provider=self.name, ok=False, error=error
                )
            )
            return error
        unhealthy = await self._healthy_and_maybe_rotate(reply)
        self._remember(unhealthy, NEGATIVE_TTL if unhealthy else POSITIVE_TTL)
        self._emit(
            StatusProbed(
                time=self.clock.now(),
                source=self.source,
                provider=self.name,
                ok=unhealthy is None,
                healthz=reply.healthz,
                version=reply.version,
                key_id=reply.key_id,
                error=unhealthy or "",
            )
        )
        return unhealthy

    def _remember(self, error: str | None, ttl: float) -> None:
        self._last_error = error
        self._last_received = self.clock.now()
        self._ttl = ttl

    async def _healthy_and_maybe_rotate(self, reply: StatusReply) -> str | None:
        release = self.release
        errors: list[str] = []
        if reply.healthz != "ok":
            errors.append(f"got unexpected healthz status: {reply.healthz}")
        if reply.version not in release.status_versions:
            errors.append(f"expected KMSv2 API version {release.expected_version_text}, got {reply.version}")
        elif release.version_fixed_after_first:
            if not self.api_version:
                self.api_version = reply.version
            elif self.api_version != reply.version:
                errors.append(
                    "KMSv2 API version should not change after the initial status response version "
                    f"{self.api_version}, got {reply.version}"
                )
        if self.per_write:
            if not reply.key_id:
                errors.append("expected KMSv2 KeyID to be set, got ")
        else:
            try:
                validate_key_id(reply.key_id, strict=release.strict_limits)
            except SandboxError as exc:
                self.metrics.record_invalid_key_id(self.name, key_id_error_code(reply.key_id))
                quoted = release.format_key_id(reply.key_id, key_id_hash(reply.key_id))
                label = "KeyID" if release.error_key_id_form == "raw" else "KeyID hash"
                errors.append(f'got invalid KMSv2 {label} "{quoted}": {exc}')
            else:
                self.metrics.record_status_key_id(self.name, reply.key_id, self.clock.now())
                rotation_error = await self.rotate_dek_on_key_id_change(reply.key_id, new_uid())
                if rotation_error:
                    errors.append(rotation_error)
        if not errors:
            return None
        return f"kmsv2 Provider {self.name} is not healthy, error: {aggregate(errors)}"

    # --- rotation (spec 4.3, CFG-11) -----------------------------------------------------------

    async def rotate_dek_on_key_id_change(self, status_key_id: str, uid: str) -> str | None:
        """Extends or replaces the write state; returns the `failed to rotate DEK ...` text on failure."""
        expiration = self.clock.now() + WRITE_DEK_MAX_TTL
        use_seed = self.use_seed
        wanted_type = HKDF_SHA256_XNONCE_AES_GCM_SEED if use_seed else AES_GCM_KEY
        state = self.state
        err_state = NIL_TRANSFORMER if state is None else None
        if state is not None and state.key_id == status_key_id and state.dek_source_type == wanted_type:
            self.state = dataclasses.replace(state, expiration=expiration)
            self._emit(
                WriteStateExtended(
                    time=self.clock.now(),
                    source=self.source,
                    provider=self.name,
                    key_id=status_key_id,
                    expires_at=expiration,
                )
            )
            return None
        new_state, err_gen = await self._generate(uid, use_seed, expiration)
        encrypt_key_id = new_state.key_id if new_state is not None else ""
        if new_state is not None and err_gen is None and encrypt_key_id == status_key_id:
            self.state = new_state
            self._emit(
                WriteStateRotated(
                    time=self.clock.now(),
                    source=self.source,
                    provider=self.name,
                    ok=True,
                    key_id=encrypt_key_id,
                    dek_source_type=DEK_SOURCE_TYPE_NAMES[wanted_type],
                    expires_at=expiration,
                    uid=uid,
                )
            )
            return None
        state_key_id = state.key_id if state is not None else ""
        state_expiration = state.expiration if state is not None else 0.0
        error = (
            f'failed to rotate DEK uid="{uid}", useSeed={str(use_seed).lower()}, '
            f"errState={err_state or '<nil>'}, errGen={err_gen or '<nil>'}, "
            f'statusKeyIDHash="{key_id_hash(status_key_id)}", '
            f'encryptKeyIDHash="{key_id_hash(encrypt_key_id)}", '
            f'stateKeyIDHash="{key_id_hash(state_key_id)}", expirationTimestamp={rfc3339(state_expiration)}'
        )
        self._emit(
            WriteStateRotated(
                time=self.clock.now(),
                source=self.source,
                provider=self.name,
                ok=False,
                key_id=status_key_id,
                dek_source_type=DEK_SOURCE_TYPE_NAMES[wanted_type],
                uid=uid,
                error=error,
            )
        )
        return error

    async def _generate(
        self, uid: str, use_seed: bool, expiration: float
    ) -> tuple[WriteState | None, str | None]:
        """GenerateTransformer: a fresh DEK/seed, one Encrypt, validation of the answer."""
        source = os.urandom(DEK_SIZE)
        try:
            reply = await self.service.encrypt(source, uid)
        except KmsCallError as exc:
            return None, f"failed to encrypt DEK, error: {exc}"
        dek_type = HKDF_SHA256_XNONCE_AES_GCM_SEED if use_seed else AES_GCM_KEY
        obj = EncryptedObject(
            encrypted_data=b"\x00",  # any non-empty value, to pass validation
            key_id=reply.key_id,
            encrypted_dek_source=reply.ciphertext,
            annotations=reply.annotations,
            dek_source_type=dek_type,
        )
        try:
            validate_encrypted_object(obj, strict=self.release.strict_limits)
        except SandboxError as exc:
            return None, str(exc)
        transformer: CounterNonceGCM | ExtendedNonceGCM = (
            ExtendedNonceGCM(source) if use_seed else CounterNonceGCM(source)
        )
        cache_key = dek_cache_key(dek_type, reply.ciphertext, reply.key_id, reply.annotations)
        reader = SeedReader(source, self.clock.now) if use_seed else AesGcmReader(source)
        return WriteState(transformer, obj, uid, expiration, cache_key, reader), None

    # --- background loops (spec 4.2) -----------------------------------------------------------

    async def prime(self) -> str | None:
        """The inline first probe at provider build time, then the background loops."""
        if self.per_write:
            return None  # 1.25/1.26 only probed on health requests
        error = await self.check()
        if error is not None and self.release.fast_retry_after_failed_start:
            self._start_fast_loop()
        self._schedule(POSITIVE_INTERVAL, self._poll)
        return error

    def _schedule(self, delay: float, callback: Callable[[], object]) -> None:
        if self._closed:
            return
        self._timers = [t for t in self._timers if not t.cancelled and t.when > self.clock.now()]
        self._timers.append(self.clock.call_later(delay, callback))  # type: ignore[arg-type]

    def _start_fast_loop(self) -> None:
        if not self._fast_loop_running:
            self._fast_loop_running = True
            self._schedule(NEGATIVE_INTERVAL, self._fast_probe)

    async def _fast_probe(self) -> None:
        if self._closed:
            return
        if await self.check() is None:
            self._fast_loop_running = False
        else:
            self._schedule(NEGATIVE_INTERVAL, self._fast_probe)

    async def _poll(self) -> None:
        """The 1-minute poll; while failing it probes every 10 s, then resumes the minute cadence."""
        if self._closed:
            return
        if self._fast_loop_running:
            # The start-up fast loop is already probing every 10 s; just keep the minute beat.
            self._schedule(POSITIVE_INTERVAL, self._poll)
            return
        if await self.check() is None:
            self._schedule(POSITIVE_INTERVAL, self._poll)
        else:
            self._schedule(NEGATIVE_INTERVAL, self._poll_fast)

    async def _poll_fast(self) -> None:
        if self._closed:
            return
        if await self.check() is None:
            self._schedule(POSITIVE_INTERVAL, self._poll)
        else:
            self._schedule(NEGATIVE_INTERVAL, self._poll_fast)

    def close(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
