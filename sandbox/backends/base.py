"""The contract every backend keeps: the simulator (`sim`), real processes (`local`), kind.

Scenarios, the CLI and the UI only ever talk to a `Backend`, so a scenario written against the
simulator runs unchanged on a real cluster. Everything a backend observes is published on its
`events` bus (see `sandbox.core.events`); the methods here return plain results so callers can
assert on them.

Object operations return an `OpResult` instead of raising for API errors (an HTTP 500 "got
unexpected nil transformer" is an *outcome* a scenario expects, not a crash). Methods raise
`BackendError` only when the backend itself is broken (a process died, a binary is missing).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from sandbox.core.events import EventBus

ObjectKind = Literal["secrets", "configmaps"]


class BackendError(Exception):
    """The backend cannot go on (not an API error a scenario may expect)."""


@dataclass(frozen=True)
class BackendOptions:
    """What a run asks of a backend. Backends ignore what they cannot honour and say so."""

    kube_version: str = ""
    """Kubernetes release to model or run, e.g. "1.34"; "" means the backend's default."""
    encryption_config: str = ""
    """EncryptionConfiguration YAML the apiservers start with ("" = the backend default)."""
    apiservers: int = 1
    """How many apiservers share one etcd (HA); each gets its own plugin connection."""
    plugins: int = 1
    """How many plugin instances (1 = shared; or one per apiserver for HA lessons)."""
    plugin_api: str = "v2"
    """KMS API the bundled plugin serves: v2, v2beta1, v2alpha1 or v1."""
    virtual_time: bool = True
    """Simulator only: advance time instantly instead of sleeping."""
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    state_dir: str = ""
    """Where sockets, keys, logs and data go ("" = a temp dir removed on stop)."""
    keep: bool = False
    """Keep state (and for kind, the cluster) after stop."""


@dataclass(frozen=True)
class OpResult:
    """The outcome of an API operation, as a client (kubectl) would see it."""

    ok: bool
    code: int = 200
    """HTTP status: 200/201 ok, 404 not found, 409 conflict, 500 internal error, ..."""
    reason: str = ""
    """Kubernetes status reason, e.g. "InternalError", "NotFound"."""
    message: str = ""
    """Full message, e.g. "Internal error occurred: got unexpected nil transformer"."""
    resource_version: str = ""
    data: Mapping[str, bytes] = field(default_factory=dict)
    """Object data on reads (Secret data or ConfigMap data, as bytes)."""


@dataclass(frozen=True)
class ListResult:
    ok: bool
    items: tuple[str, ...] = ()
    """namespace/name of each object returned."""
    code: int = 200
    message: str = ""


@dataclass(frozen=True)
class HealthResult:
    """One health endpoint's answer: /healthz, /readyz, /livez, or a single check path."""

    code: int
    body: str

    @property
    def ok(self) -> bool:
        return self.code == 200


@dataclass(frozen=True)
class MigrationResult:
    """Storage migration: every object read and written back unchanged."""

    total: int
    rewritten: int
    """Objects whose resourceVersion changed (they were stale and got re-encrypted)."""
    failed: tuple[str, ...] = ()
    """namespace/name: message, of objects that could not be migrated."""


class Backend(abc.ABC):
    """A control plane with KMS v2 wired to the bundled plugin.

    Capability flags say what a backend can do, so the runner can skip or adapt instead of
    failing: `VIRTUAL_TIME` (advance is instant), `HA` (several apiservers), `KMS_V1`,
    `RAW_ETCD_WRITE` (put arbitrary bytes into etcd).
    """

    name: ClassVar[str]
    VIRTUAL_TIME: ClassVar[bool] = False
    HA: ClassVar[bool] = False
    KMS_V1: ClassVar[bool] = False
    RAW_ETCD_WRITE: ClassVar[bool] = False

    def __init__(self, options: BackendOptions, events: EventBus | None = None) -> None:
        self.options = options
        self.events = events if events is not None else EventBus()

    # --- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Starts plugin(s), etcd (or the store) and apiserver(s); returns when they answer."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stops everything started, idempotently. Must be safe after a failed start."""

    async def __aenter__(self) -> Backend:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- the clock ---------------------------------------------------------------------------
    @abc.abstractmethod
    def now(self) -> float:
        """The run's current time (Unix seconds; virtual on the simulator)."""

    @abc.abstractmethod
    async def advance(self, seconds: float, reason: str = "") -> None:
        """Lets `seconds` pass: instantly on a virtual clock, really (with progress) otherwise."""

    # --- objects through the API -------------------------------------------------------------
    @abc.abstractmethod
    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes], apiserver: int = 0
    ) -> OpResult: ...

    @abc.abstractmethod
    async def get(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult: ...

    @abc.abstractmethod
    async def update(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        data: Mapping[str, bytes] | None = None,
        apiserver: int = 0,
    ) -> OpResult:
        """Replaces the object; `data=None` is a no-op update (GET then PUT unchanged)."""

    @abc.abstractmethod
    async def delete(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult: ...

    @abc.abstractmethod
    async def list(
        self, kind: ObjectKind, namespace: str | None = None, apiserver: int = 0
    ) -> ListResult: ...

    @abc.abstractmethod
    async def migrate(
        self, kinds: tuple[ObjectKind, ...] = ("secrets",), apiserver: int = 0
    ) -> MigrationResult:
        """Storage migration the kubectl way: list, then replace each object unchanged."""

    # --- etcd, raw ---------------------------------------------------------------------------
    @abc.abstractmethod
    async def etcd_get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def etcd_keys(self, prefix: str) -> builtins.list[str]: ...

    async def etcd_put(self, key: str, value: bytes) -> None:
        raise BackendError(f"the {self.name} backend cannot write raw values to etcd")

    def etcd_prefix(self) -> str:
        """The storage prefix keys live under ("/registry" by default)."""
        return "/registry"

    # --- apiservers --------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def apiserver_count(self) -> int: ...

    @abc.abstractmethod
    async def restart_apiserver(self, index: int | None = None) -> None:
        """Restarts one apiserver (or all when None); caches and write state are lost."""

    @abc.abstractmethod
    async def set_encryption_config(
        self, yaml_text: str, mode: Literal["reload", "restart"] = "reload"
    ) -> None:
        """Rewrites the config file atomically; `reload` relies on automatic reload."""

    @abc.abstractmethod
    async def health(self, path: str = "/healthz/kms-providers", apiserver: int = 0) -> HealthResult: ...

    @abc.abstractmethod
    async def metrics(self, apiserver: int = 0) -> str:
        """Prometheus text exposition of the apiserver's /metrics."""

    # --- plugin ------------------------------------------------------------------------------
    @abc.abstractmethod
    def plugin_control_endpoint(self, index: int = 0) -> str:
        """unix:// address of plugin `index`'s control API (see sandbox.kms.control_client)."""

    @property
    def plugin_count(self) -> int:
        return self.options.plugins

    @abc.abstractmethod
    async def restart_plugin(self, index: int = 0, down_for: float = 0.0) -> None:
        """Stops plugin `index` (its socket goes away) and, after `down_for`, starts it again."""

    @abc.abstractmethod
    async def stop_plugin(self, index: int = 0) -> None: ...

    @abc.abstractmethod
    async def start_plugin(self, index: int = 0) -> None: ...

    # --- reports -----------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """What a bug report should name: Kubernetes release, binaries, node image."""
        return {"backend": self.name, "kubernetes": self.options.kube_version}

    def logs(self) -> dict[str, str]:
        """Process logs by name ("plugin-0", "apiserver-0", ...) for bug-report bundles."""
        return {}
