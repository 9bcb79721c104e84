"""The plugin's protocol-free core: keyring, faults, health overrides, counters and call events.

The gRPC servicers (`sandbox.kms.servicers`) only translate protos to calls on `PluginService`
and `KmsCallError` back to gRPC statuses, like upstream's `kms/pkg/service` split between a
Service and a thin GRPCService. Every KMS call goes through `run()`, which applies the outage
mode, injected faults and the remote-KMS cost model, then records counters, a latency
histogram, a log line and a `PluginCall` event. Runs on one asyncio loop; no locks needed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from sandbox.core.events import EventBus, PluginCall, PluginStateChanged
from sandbox.core.keyring import Keyring, KeyringError, UnknownKeyIdError
from sandbox.kms.calls import (
    LATENCY_BUCKETS_S,
    CallOutcome,
    EncryptAnswer,
    Histogram,
    KmsCallError,
    StatusAnswer,
)
from sandbox.kms.event_buffer import EventBuffer
from sandbox.kms.keyring_sync import SharedKeyring
from sandbox.kms.keystore import KeyringFile
from sandbox.kms.model import (
    API_FLAVOURS,
    FAULT_METHODS,
    AnnotationOverride,
    Fault,
    HealthOverride,
    KeyView,
    OutageMode,
    PluginStateView,
)

__all__ = [
    "LATENCY_BUCKETS_S",
    "CallOutcome",
    "EncryptAnswer",
    "KmsCallError",
    "PluginService",
    "StatusAnswer",
]

T = TypeVar("T")
log = logging.getLogger("sandbox.kms")

ANNOTATION_KEY = "version.kms-sandbox.dev"
"""Our one annotation: a dotted FQDN, as the apiserver's IsFullyQualifiedDomainName demands."""
ANNOTATION_VALUE = b"1"
KEY_ID_MAX_BYTES = 1024


class PluginService:
    """One plugin instance's state and behaviour, shared by every servicer."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        api: str = "v2",
        store: KeyringFile | None = None,
        clock: Callable[[], float] = time.time,
        bus: EventBus | None = None,
        listen: str = "",
    ) -> None:
        if api not in API_FLAVOURS:
            raise ValueError(f"unknown api {api!r}; expected one of {', '.join(API_FLAVOURS)}")
        self.flavour = API_FLAVOURS[api]
        self.shared = SharedKeyring(keyring, store)
        """The keyring, kept in step with the state dir's file that other replicas share."""
        self.shared.on_reload = self._keyring_reloaded
        self._clock = clock
        self.listen = listen
        self.started = clock()
        self.health = HealthOverride()
        self.annotations = AnnotationOverride()
        # Built once per change, not per call: Encrypt hands the same (read-only) mapping out.
        self._encrypt_annotations: dict[str, bytes] = {ANNOTATION_KEY: ANNOTATION_VALUE}
        self._encrypt_annotation_keys: tuple[str, ...] = (ANNOTATION_KEY,)
        self.outage: OutageMode = "none"
        self._restored = asyncio.Event()
        self._restored.set()
        self.faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        self.remote_latency_ms = (0.0, 0.0)
        self.counters: dict[tuple[str, str], int] = {}
        self.histograms: dict[str, Histogram] = {}
        self._events = EventBuffer(bus)
        self.events = self._events.events
        self.watch = self._events.watch
        self.unwatch = self._events.unwatch
        self.close_watchers = self._events.close_watchers

    @property
    def keyring(self) -> Keyring:
        return self.shared.ring

    # --- KMS v2 operations (called inside run()) ----------------------------------------------

    def status(self) -> CallOutcome[StatusAnswer]:
        key_id = {
            "real": self.keyring.current_id,
            "empty": "",
            "too-long": "k" * (KEY_ID_MAX_BYTES + 1),
            "custom": self.health.custom_key_id,
        }[self.health.key_id_mode]
        answer = StatusAnswer(self.health.version or self.flavour.version, self.health.healthz, key_id)
        return CallOutcome(answer, key_id=key_id)

    def encrypt(self, plaintext: bytes, uid: str) -> CallOutcome[EncryptAnswer]:
        _require_uid(uid)
        ciphertext, key_id = self._wrap(plaintext)
        annotations = self._encrypt_annotations
        answer = EncryptAnswer(ciphertext, key_id, annotations)
        return CallOutcome(answer, key_id, self._encrypt_annotation_keys)

    def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> CallOutcome[bytes]:
        _require_uid(uid)
        version = annotations.get(ANNOTATION_KEY)
        if version is not None and version != ANNOTATION_VALUE:
            raise KmsCallError(
                "INVALID_ARGUMENT",
                f"unsupported {ANNOTATION_KEY} annotation {version!r}; this plugin writes b'1'",
            )
        try:
            plaintext = self.keyring.unwrap(ciphertext, key_id)
        except KeyringError as exc:
            raise KmsCallError(exc.code, self._explain(exc)) from None
        return CallOutcome(plaintext, key_id, tuple(sorted(annotations)))

    # --- KMS v1 operations --------------------------------------------------------------------

    def v1_check_version(self, version: str) -> None:
        if version != self.flavour.version:
            raise KmsCallError(
                "INVALID_ARGUMENT",
                f"KMS provider api version {version} is not supported, only {self.flavour.version} "
                "is supported now",
            )

    def v1_encrypt(self, version: str, plain: bytes) -> CallOutcome[bytes]:
        self.v1_check_version(version)
        ciphertext, key_id = self._wrap(plain)
        # v1 has no key_id field: prefix the id so Decrypt can find the KEK after a rotation.
        return CallOutcome(key_id.encode() + b":" + ciphertext, key_id)

    def v1_decrypt(self, version: str, cipher: bytes) -> CallOutcome[bytes]:
        self.v1_check_version(version)
        key_id, sep, wrapped = cipher.partition(b":")
        if not sep:
            raise KmsCallError(
                "INVALID_ARGUMENT", "cipher has no key_id prefix; it was not made by this plugin"
            )
        try:
            return CallOutcome(self.keyring.unwrap(wrapped, key_id.decode(errors="replace")), key_id.decode())
        except KeyringError as exc:
            raise KmsCallError(exc.code, self._explain(exc)) from None

    def _explain(self, exc: KeyringError) -> str:
        if isinstance(exc, UnknownKeyIdError) and self.shared.paused:
            return f"{exc} (keyring sync is paused on this instance, so it lacks newer KEKs)"
        return str(exc)

    def _wrap(self, plaintext: bytes) -> tuple[bytes, str]:
        try:
            return self.keyring.wrap(plaintext)
        except KeyringError as exc:
            raise KmsCallError(exc.code, str(exc)) from None

    # --- the call pipeline --------------------------------------------------------------------

    async def run(self, method: str, uid: str, request_bytes: int, op: Callable[[], CallOutcome[T]]) -> T:
        """Applies outage, faults and remote latency, runs `op`, and records the call either way."""
        start = time.perf_counter()
        code, message = "OK", ""
        outcome: CallOutcome[T] | None = None
        self.shared.sync()  # one stat; picks up a rotation made through another replica
        try:
            if self._misbehaving:  # the common case skips a coroutine per call
                await self._misbehave(method)
            outcome = op()
            return outcome.value
        except KmsCallError as exc:
            code, message = exc.code, exc.message
            raise
        except asyncio.CancelledError:
            code, message = "CANCELLED", "the client went away (deadline or cancel)"
            raise
        except Exception as exc:
            # Never a stack trace to the client and never plaintext in the log: the type only.
            code, message = "INTERNAL", f"internal plugin error ({type(exc).__name__})"
            log.error("unexpected error in %s", method, extra={"fields": {"uid": uid, "error": message}})
            raise KmsCallError(code, message) from None
        finally:
            self._record(method, uid, request_bytes, outcome, code, message, time.perf_counter() - start)

    @property
    def _misbehaving(self) -> bool:
        return self.outage != "none" or bool(self.faults) or self.remote_latency_ms != (0.0, 0.0)

    async def _misbehave(self, method: str) -> None:
        if self.outage == "unavailable":
            raise KmsCallError("UNAVAILABLE", "plugin outage injected by kms-sandbox (outage unavailable)")
        if self.outage == "hang":
            await self._restored.wait()  # the caller's deadline fires first; grpc cancels us
        for fault in list(self.faults):
            if fault.method not in ("*", method):
                continue
            if fault.probability and random.random() >= fault.probability:
                continue
            if fault.count:
                self._consume(fault)
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.code:
                raise KmsCallError(fault.code, fault.message or f"fault injected by kms-sandbox ({fault.id})")
        delay_ms = {"Encrypt": self.remote_latency_ms[0], "Decrypt": self.remote_latency_ms[1]}.get(
            method, 0.0
        )
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)

    def _consume(self, fault: Fault) -> None:
        index = self.faults.index(fault)
        if fault.count <= 1:
            del self.faults[index]
        else:
            self.faults[index] = replace(fault, count=fault.count - 1)

    def _record(
        self,
        method: str,
        uid: str,
        request_bytes: int,
        outcome: CallOutcome[Any] | None,
        code: str,
        message: str,
        seconds: float,
    ) -> None:
        self.counters[(method, code)] = self.counters.get((method, code), 0) + 1
        hist = self.histograms.get(method)
        if hist is None:
            hist = self.histograms[method] = Histogram([0] * len(LATENCY_BUCKETS_S))
        hist.observe(seconds)
        event = PluginCall(
            time=self._clock(),
            source="plugin",
            method=method,
            uid=uid,
            key_id=outcome.key_id if outcome else "",
            annotation_keys=outcome.annotation_keys if outcome else (),
            request_bytes=request_bytes,
            response_bytes=outcome.response_bytes if outcome else 0,
            latency_ms=round(seconds * 1000, 3),
            code=code,
            message=message,
        )
        self._emit(event)
        if log.isEnabledFor(logging.INFO):
            fields = {
                "method": method,
                "uid": uid,
                "key_id": event.key_id,
                "code": code,
                "latency_ms": event.latency_ms,
                "request_bytes": request_bytes,
            }
            if message:
                fields["error"] = message
            log.info("kms call", extra={"fields": fields})

    # --- control operations -------------------------------------------------------------------

    def rotate(self) -> tuple[str, str]:
        """New current KEK, written to the shared keyring. Raises KeyringError (lagging) or
        KeystoreError (file not writable)."""

        def change(ring: Keyring) -> tuple[str, str]:
            previous = ring.current_id
            return ring.rotate(self._clock()).key_id, previous

        new, previous = self.shared.update(change)
        self._changed("rotate", f"{previous} -> {new}")
        return new, previous

    def retire(self, key_id: str) -> None:
        self.shared.update(lambda ring: ring.retire(key_id))  # KeyringError: to the control servicer
        self._changed("retire", key_id)

    def set_keyring_sync(self, paused: bool) -> None:
        """Pause ("lag": keep serving the in-memory keyring) or resume following the shared file."""
        self.shared.set_paused(paused)
        self._changed("keyring-sync", "paused (lagging)" if paused else "following the shared keyring")

    def _keyring_reloaded(self, old: Keyring, new: Keyring) -> None:
        added = [k for k in new.keks if k not in old.keks]
        gone = [k for k in old.keks if k not in new.keks]
        detail = f"current {old.current_id} -> {new.current_id}" if old.current_id != new.current_id else ""
        detail += "".join(f"; added {k}" for k in added) + "".join(f"; retired {k}" for k in gone)
        self._changed("keyring-reloaded", detail.strip("; ") or "no visible change")

    def set_health(self, health: HealthOverride) -> None:
        self.health = health
        self._changed("health", "healthy" if health.is_default else repr(health))

    def set_annotations(self, override: AnnotationOverride) -> None:
        """What Encrypt returns from now on; raises ValueError for an override it cannot apply."""
        problem = override.problem(ANNOTATION_KEY, ANNOTATION_VALUE)
        if problem:
            raise ValueError(problem)
        base = {} if override.replace else {ANNOTATION_KEY: ANNOTATION_VALUE}
        self.annotations = AnnotationOverride(dict(override.extra), override.replace)
        self._encrypt_annotations = {**base, **override.extra}
        self._encrypt_annotation_keys = tuple(sorted(self._encrypt_annotations))
        if override.is_default:
            detail = "Encrypt returns the plugin's own annotation again"
        else:
            sizes = ", ".join(f"{k} ({len(v)} B)" for k, v in sorted(override.extra.items()))
            verb = "replaced by" if override.replace else "plus"
            detail = f"Encrypt annotations {verb}: {sizes or 'nothing'}"
        self._changed("annotations", detail)

    def set_outage(self, mode: OutageMode) -> None:
        self.outage = mode
        if mode == "hang":
            self._restored.clear()
        else:
            self._restored.set()
        self._changed("outage", mode)

    def add_fault(self, fault: Fault) -> Fault:
        if fault.method not in FAULT_METHODS:
            raise ValueError(f"unknown method {fault.method!r}; expected one of {', '.join(FAULT_METHODS)}")
        fault = replace(fault, id=fault.id or f"fault-{next(self._fault_ids)}")
        self.faults.append(fault)
        self._changed("fault", repr(fault))
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()
        self._changed("faults-cleared", "")

    def set_remote_latency(self, encrypt_ms: float, decrypt_ms: float) -> None:
        self.remote_latency_ms = (max(0.0, encrypt_ms), max(0.0, decrypt_ms))
        self._changed("latency", f"encrypt={encrypt_ms}ms decrypt={decrypt_ms}ms")

    def reset_counters(self) -> None:
        self.counters.clear()
        self.histograms.clear()
        self._changed("counters-reset", "")

    def snapshot(self) -> PluginStateView:
        self.shared.sync()
        ring = self.keyring
        keys = tuple(KeyView(k.key_id, k.created, k.key_id == ring.current_id) for k in ring.keks.values())
        return PluginStateView(
            api=self.flavour.name,
            current_key_id=ring.current_id,
            keys=keys,
            retired_key_ids=tuple(ring.retired),
            health=self.health,
            outage=self.outage,
            faults=tuple(self.faults),
            counters=dict(self.counters),
            remote_latency_ms=self.remote_latency_ms,
            listen=self.listen,
            started=self.started,
            pid=os.getpid(),
            keyring_sync_paused=self.shared.paused,
            annotations=self.annotations,
        )

    # --- events -------------------------------------------------------------------------------

    def _changed(self, change: str, detail: str) -> None:
        self._emit(
            PluginStateChanged(
                time=self._clock(),
                source="plugin",
                change=change,
                detail=detail,
                current_key_id=self.keyring.current_id,
            )
        )
        log.info("state changed", extra={"fields": {"change": change, "detail": detail}})

    def _emit(self, event: PluginCall | PluginStateChanged) -> None:
        self._events.emit(event)


def _require_uid(uid: str) -> None:
    if not uid:
        raise KmsCallError("INVALID_ARGUMENT", "uid is required")
