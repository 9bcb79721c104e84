"""Scenario operations: what a step does, as frozen dataclasses.

Part of the scenario model: `sandbox.scenarios.model` re-exports every name here. YAML keys are
the camelCase field names, each class names its one-key mapping in `key`, and field docstrings
become the descriptions in the generated JSON Schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sandbox.scenarios.model_expectations import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    AllOr,
    Expectation,
    ObjectKindName,
    Seconds,
)

# --- operations --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ObjectsOp:
    """Fields shared by operations on one or many objects named from a template."""

    key: ClassVar[str] = ""
    kind: ObjectKindName = "secrets"
    """Object kind: secrets or configmaps."""
    namespace: str = "default"
    name: str
    """Object name; with `count`, a Python format template over `i`, e.g. "s-{i:04d}"."""
    count: int = 1
    """How many objects, named with i = start .. start+count-1."""
    start: int = 0
    """First value of i."""
    apiserver: int = 0
    """Which apiserver the request goes to (HA scenarios)."""
    id: str = ""
    """A name for this operation, so an `outcome` expectation can refer to it."""


@dataclass(frozen=True, kw_only=True)
class CreateOp(ObjectsOp):
    """Creates objects through the API."""

    key: ClassVar[str] = "create"
    data: Mapping[str, str] = field(default_factory=dict)
    """Data entries (strings; `{i}` is expanded). Never written to reports or logs."""


@dataclass(frozen=True, kw_only=True)
class GetOp(ObjectsOp):
    """Reads objects through the API (decrypting them)."""

    key: ClassVar[str] = "get"


@dataclass(frozen=True, kw_only=True)
class UpdateOp(ObjectsOp):
    """Replaces objects; without `data` it is a no-op update (GET then PUT unchanged)."""

    key: ClassVar[str] = "update"
    data: Mapping[str, str] | None = None
    """New data entries; omit for a no-op update that rewrites only stale objects."""


@dataclass(frozen=True, kw_only=True)
class DeleteOp(ObjectsOp):
    """Deletes objects."""

    key: ClassVar[str] = "delete"


@dataclass(frozen=True, kw_only=True)
class ListOp:
    """Lists objects (every one is read and decrypted)."""

    key: ClassVar[str] = "list"
    kind: ObjectKindName = "secrets"
    namespace: str = ""
    """Namespace to list; empty lists all namespaces."""
    apiserver: int = 0
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class MigrateOp:
    """Storage migration the kubectl way: list everything, replace each object unchanged."""

    key: ClassVar[str] = "migrate"
    kinds: tuple[ObjectKindName, ...] = ("secrets",)
    apiserver: int = 0
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class PluginOp:
    """Fields shared by plugin operations."""

    key: ClassVar[str] = ""
    plugin: int | AllOr = "all"
    """Which plugin instance: an index, or "all"."""
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class RotateKeyOp(PluginOp):
    """Rotates the KEK in the (simulated) remote KMS: Status reports a new key_id at once."""

    key: ClassVar[str] = "rotateKey"


@dataclass(frozen=True, kw_only=True)
class RetireKeyOp(PluginOp):
    """Deletes a KEK for good: data wrapped by it can no longer be decrypted."""

    key: ClassVar[str] = "retireKey"
    key_id: str = "previous"
    """"previous", "initial" (from the plugin's key history), or a literal key_id."""


@dataclass(frozen=True, kw_only=True)
class PluginHealthOp(PluginOp):
    """Makes Status lie: healthz text, an empty/over-long/custom key_id, another version."""

    key: ClassVar[str] = "pluginHealth"
    healthz: str = "ok"
    key_id: str = "real"
    """"real", "empty", "too-long", or any other text for a custom key_id."""
    version: str = ""
    """Version to report; empty means the one the served API demands."""


@dataclass(frozen=True, kw_only=True)
class PluginOutageOp(PluginOp):
    """Stops answering KMS calls: `unavailable` errors at once, `hang` never answers."""

    key: ClassVar[str] = "pluginOutage"
    mode: Literal["unavailable", "hang"] = "unavailable"


@dataclass(frozen=True, kw_only=True)
class PluginRestoreOp(PluginOp):
    """Ends any outage, health override and faults: the plugin answers truthfully again."""

    key: ClassVar[str] = "pluginRestore"


@dataclass(frozen=True, kw_only=True)
class PluginFaultOp(PluginOp):
    """Injects a fault into one KMS method: an error code, extra latency, or both."""

    key: ClassVar[str] = "pluginFault"
    method: Literal["Status", "Encrypt", "Decrypt", "Version", "*"] = "*"
    code: str = ""
    """gRPC code name such as INTERNAL; empty adds latency only."""
    message: str = ""
    latency_ms: float = 0.0
    times: int = 0
    """Applies to the next `times` calls; 0 means until cleared."""
    probability: float = 0.0
    """Chance a call is affected; 0 means always."""


@dataclass(frozen=True, kw_only=True)
class PluginLatencyOp(PluginOp):
    """Sets the simulated cloud-KMS round trip added to every Encrypt and Decrypt."""

    key: ClassVar[str] = "pluginLatency"
    encrypt_ms: float = 0.0
    decrypt_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PluginLagOp(PluginOp):
    """Makes plugin replicas lag: a paused replica keeps its copy of the shared keyring.

    Replicas share one keyring (one remote KMS). A paused replica ignores rotations made through
    the others: its Status keeps reporting the old key_id and its Decrypt cannot unwrap data
    wrapped under a newer KEK (NOT_FOUND), like a KMS replica the new key has not reached yet.
    """

    key: ClassVar[str] = "pluginLag"
    paused: bool = True
    """true: stop following the shared keyring; false: catch up at the next call."""


@dataclass(frozen=True, kw_only=True)
class PluginAnnotationsOp(PluginOp):
    """Makes Encrypt return extra annotations (for the apiserver's annotation validation).

    The apiserver validates every Encrypt response's annotations: keys must be dotted DNS names
    and keys plus values must total at most 32 KiB. Empty `annotations` and no padding clear the
    override. Decrypt ignores annotations, so data wrapped meanwhile stays readable.
    """

    key: ClassVar[str] = "pluginAnnotations"
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations Encrypt returns besides the plugin's own."""
    pad_annotations_to: int = 0
    """Adds a filler annotation so that keys plus values total this many bytes."""


@dataclass(frozen=True, kw_only=True)
class PluginStopOp(PluginOp):
    """Stops the plugin process; its socket goes away."""

    key: ClassVar[str] = "pluginStop"


@dataclass(frozen=True, kw_only=True)
class PluginStartOp(PluginOp):
    """Starts the plugin process again, optionally only if it can read a Secret it needs."""

    key: ClassVar[str] = "pluginStart"
    needs_secret: str = ""
    """namespace/name of a Secret the plugin must read from the cluster before it can start."""


@dataclass(frozen=True, kw_only=True)
class RestartApiserverOp:
    """Restarts one apiserver, or all: DEK caches and write state are lost."""

    key: ClassVar[str] = "restartApiserver"
    apiserver: int | AllOr = "all"
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class SetEncryptionConfigOp:
    """Rewrites the EncryptionConfiguration, then reloads it automatically or restarts."""

    key: ClassVar[str] = "setEncryptionConfig"
    config: str | Mapping[str, Any]
    """The EncryptionConfiguration, as YAML text or as a mapping."""
    mode: Literal["reload", "restart"] = "reload"
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class RewriteEnvelopeOp:
    """Rewrites a stored KMS v2 envelope's annotations straight in etcd (needs raw etcd writes).

    Shows what the apiserver does with annotations a plugin should never return: the stored
    object fails validation when it is read, exactly as an Encrypt response with them would.
    """

    key: ClassVar[str] = "rewriteEnvelope"
    kind: ObjectKindName = "secrets"
    namespace: str = "default"
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations that replace the plugin's."""
    pad_annotations_to: int = 0
    """Adds a filler annotation so that keys plus values total this many bytes."""
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class PollHealthOp:
    """Requests a health endpoint repeatedly, as a load balancer or kubelet would."""

    key: ClassVar[str] = "pollHealth"
    path: str = "/healthz"
    apiserver: int = 0
    times: int
    every: Seconds
    """Time between requests (the simulator advances it)."""
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class AdvanceOp:
    """Lets time pass (instantly on the simulator)."""

    key: ClassVar[str] = "advance"
    by: Seconds
    reason: str = ""
    """Shown in the event stream and the UI's clock."""
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class WaitOp:
    """Waits until an expectation holds, polling; fails when the timeout passes first."""

    key: ClassVar[str] = "wait"
    until: Expectation
    timeout: Seconds = DEFAULT_WAIT_TIMEOUT
    interval: Seconds = DEFAULT_POLL_INTERVAL
    id: str = ""


Operation = (
    CreateOp
    | GetOp
    | UpdateOp
    | DeleteOp
    | ListOp
    | MigrateOp
    | RotateKeyOp
    | RetireKeyOp
    | PluginHealthOp
    | PluginOutageOp
    | PluginRestoreOp
    | PluginFaultOp
    | PluginLatencyOp
    | PluginLagOp
    | PluginAnnotationsOp
    | PluginStopOp
    | PluginStartOp
    | RestartApiserverOp
    | SetEncryptionConfigOp
    | RewriteEnvelopeOp
    | PollHealthOp
    | AdvanceOp
    | WaitOp
)

OPERATION_TYPES: tuple[type[Any], ...] = Operation.__args__
