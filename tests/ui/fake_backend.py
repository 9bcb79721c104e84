"""A deterministic backend for layout snapshots: frozen clock, fixed key ids, no processes.

It is a real `Backend` subclass that publishes the same event types the simulator does, in a
fixed order with fixed values, and stores real KMS v2 etcd values (built with the core format
code) so the inspector and the hex view have true structure to show. Pilot tests of behaviour
use the real SimBackend and plugin instead; this exists only so screenshots are reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from sandbox.backends.base import (
    Backend,
    BackendOptions,
    HealthResult,
    ListResult,
    MigrationResult,
    ObjectKind,
    OpResult,
)
from sandbox.core import events as ev
from sandbox.core.events import EventBus
from sandbox.core.kmsv2_format import HKDF_SHA256_XNONCE_AES_GCM_SEED, EncryptedObject, encode_value
from sandbox.kms.model import Fault, KeyView, PluginStateView

FROZEN_NOW = 1_767_225_600.0
"""2026-01-01T00:00:00Z: every event of the fake happens at this instant (or after an advance)."""
PROVIDER = "kms-provider"


def fixed_bytes(label: str, size: int) -> bytes:
    """Deterministic stand-in for random bytes (nonces, ciphertext) derived from `label`."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}:{counter}".encode()).digest()
        counter += 1
    return out[:size]


class FakeBackend(Backend):
    name = "fake"
    VIRTUAL_TIME = True

    def __init__(self, options: BackendOptions, events: EventBus | None = None) -> None:
        super().__init__(options, events)
        self._now = FROZEN_NOW
        self.key_id = "kek-0001"
        self.store: dict[str, bytes] = {}
        self.started = False
        self.stopped = False

    def _publish(self, event_type: type[ev.Event], **fields: Any) -> None:
        self.events.publish(event_type(time=self._now, **fields))

    async def start(self) -> None:
        self.started = True
        self._publish(ev.ApiserverLifecycle, source="apiserver-0", action="started")
        self._publish(
            ev.PluginCall, source="plugin", method="Status", uid="", key_id=self.key_id, latency_ms=0.4
        )
        self._publish(
            ev.StatusProbed,
            source="apiserver-0",
            provider=PROVIDER,
            ok=True,
            healthz="ok",
            version="v2",
            key_id=self.key_id,
        )
        self._rotate_write_key()
        self._publish(
            ev.HealthChanged, source="apiserver-0", check="/healthz/kms-providers", ok=True, text="ok"
        )

    def _rotate_write_key(self) -> None:
        self._publish(
            ev.PluginCall,
            source="plugin",
            method="Encrypt",
            uid="6f1c2a9e-0000-4000-8000-000000000001",
            key_id=self.key_id,
            latency_ms=1.2,
        )
        self._publish(
            ev.WriteStateRotated,
            source="apiserver-0",
            provider=PROVIDER,
            ok=True,
            key_id=self.key_id,
            dek_source_type="HKDF_SHA256_XNONCE_AES_GCM_SEED",
            expires_at=self._now + 180,
        )

    async def stop(self) -> None:
        self.stopped = True

    def now(self) -> float:
        return self._now

    async def advance(self, seconds: float, reason: str = "") -> None:
        self._now += seconds
        self._publish(ev.ClockAdvanced, seconds=seconds, reason=reason)

    def value_for(self, key: str, data: Mapping[str, bytes]) -> bytes:
        plaintext_size = 60 + sum(len(k) + len(v) for k, v in data.items())
        payload = fixed_bytes(f"info:{key}", 32) + fixed_bytes(f"nonce:{key}", 12)
        payload += fixed_bytes(f"ct:{key}", plaintext_size) + fixed_bytes(f"tag:{key}", 16)
        obj = EncryptedObject(
            encrypted_data=payload,
            key_id=self.key_id,
            encrypted_dek_source=fixed_bytes(f"seed:{self.key_id}", 60),
            annotations={"version.encryption.remote.io": b"1"},
            dek_source_type=HKDF_SHA256_XNONCE_AES_GCM_SEED,
        )
        return encode_value(PROVIDER, obj)

    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes], apiserver: int = 0
    ) -> OpResult:
        key = f"/registry/{kind}/{namespace}/{name}"
        value = self.value_for(key, data)
        self.store[key] = value
        self._publish(
            ev.StorageWritten,
            source="apiserver-0",
            key=key,
            resource_version=len(self.store),
            prefix=f"k8s:enc:kms:v2:{PROVIDER}:",
            provider=PROVIDER,
            key_id=self.key_id,
            dek_source_type="HKDF_SHA256_XNONCE_AES_GCM_SEED",
            size=len(value),
        )
        return OpResult(ok=True, code=201)

    async def get(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        ok = f"/registry/{kind}/{namespace}/{name}" in self.store
        return OpResult(ok=ok, code=200 if ok else 404)

    async def update(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        data: Mapping[str, bytes] | None = None,
        apiserver: int = 0,
    ) -> OpResult:
        return await self.create(kind, namespace, name, data or {}, apiserver)

    async def delete(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        key = f"/registry/{kind}/{namespace}/{name}"
        self.store.pop(key, None)
        self._publish(ev.StorageDeleted, key=key)
        return OpResult(ok=True)

    async def list(self, kind: ObjectKind, namespace: str | None = None, apiserver: int = 0) -> ListResult:
        prefix = f"/registry/{kind}/"
        return ListResult(
            ok=True, items=tuple(k[len(prefix) :] for k in sorted(self.store) if k.startswith(prefix))
        )

    async def migrate(
        self, kinds: tuple[ObjectKind, ...] = ("secrets",), apiserver: int = 0
    ) -> MigrationResult:
        return MigrationResult(total=len(self.store), rewritten=0)

    async def etcd_get(self, key: str) -> bytes | None:
        return self.store.get(key)

    async def etcd_keys(self, prefix: str) -> Any:
        return sorted(k for k in self.store if k.startswith(prefix))

    @property
    def apiserver_count(self) -> int:
        return 1

    async def restart_apiserver(self, index: int | None = None) -> None:
        self._publish(ev.ApiserverLifecycle, source="apiserver-0", action="restarting")
        self._rotate_write_key()

    async def set_encryption_config(
        self, yaml_text: str, mode: Literal["reload", "restart"] = "reload"
    ) -> None:
        return None

    async def health(self, path: str = "/healthz/kms-providers", apiserver: int = 0) -> HealthResult:
        return HealthResult(200, f"[+]{path.rsplit('/', 1)[-1]} ok\nok")

    async def metrics(self, apiserver: int = 0) -> str:
        key_hash = "sha256:" + hashlib.sha256(self.key_id.encode()).hexdigest()
        return (
            "# TYPE apiserver_envelope_encryption_key_id_hash_total counter\n"
            f'apiserver_envelope_encryption_key_id_hash_total{{key_id_hash="{key_hash}",provider_name="{PROVIDER}",'
            f'transformation_type="to_storage"}} {len(self.store)}\n'
            f'apiserver_envelope_encryption_dek_source_cache_size{{provider_name="{PROVIDER}"}} 1\n'
        )

    def plugin_control_endpoint(self, index: int = 0) -> str:
        return "unix:///nonexistent/fake-control.sock"

    async def restart_plugin(self, index: int = 0, down_for: float = 0.0) -> None:
        return None

    async def stop_plugin(self, index: int = 0) -> None:
        return None

    async def start_plugin(self, index: int = 0) -> None:
        return None


class FakeControl:
    """Deterministic stand-in for PluginControlClient (same coroutine names), for snapshots."""

    def __init__(self, endpoint: str = "", source: str = "plugin") -> None:
        self.outage = "none"
        self.faults: tuple[Fault, ...] = ()

    async def get_state(self) -> PluginStateView:
        return PluginStateView(
            api="v2",
            current_key_id="kek-0001",
            keys=(KeyView("kek-0001", FROZEN_NOW - 3600, True),),
            outage=self.outage,  # type: ignore[arg-type]
            faults=self.faults,
            pid=4242,
        )

    async def set_outage(self, mode: str) -> PluginStateView:
        self.outage = mode
        return await self.get_state()

    async def close(self) -> None:
        return None


def fake_factory(name: str, options: BackendOptions, events: EventBus) -> Backend:
    return FakeBackend(options, events)


def fake_control_factory(endpoint: str, source: str) -> Any:
    return FakeControl(endpoint, source)
