"""The scenario model: typed, frozen dataclasses, and the functions that load them.

This module is the one source of truth for the scenario format. The JSON Schema shipped as
`scenario.schema.json` is generated from these classes (`sandbox.scenarios.schema`), and the
loader builds these classes from a file that passed that schema, so the two cannot drift (a test
regenerates the schema and compares).

YAML keys are the camelCase forms of the field names (`dek_source_type` -> `dekSourceType`).
Operations and expectations are one-key mappings, the key naming the type (`- create: {...}`);
each class says its key in `key`. Field docstrings are the descriptions in the schema.

Integers and numbers may be written as `${parameter}` references; strings may embed them. The
loader substitutes parameters (defaults, then `--set` overrides) before building these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NewType

Seconds = NewType("Seconds", float)
"""A duration: a number of seconds, or a string such as "500ms", "90s", "3m", "1h"."""

ObjectKindName = Literal["secrets", "configmaps"]
AllOr = Literal["all"]
DEFAULT_EXPECT_TIMEOUT = Seconds(10.0)
DEFAULT_POLL_INTERVAL = Seconds(1.0)


class ScenarioError(Exception):
    """A scenario file is wrong. `str()` is `file:line:column: message`, ready to print."""

    def __init__(self, message: str, path: str = "", line: int = 0, column: int = 0) -> None:
        self.path, self.line, self.column, self.detail = path, line, column, message
        where = f"{path}:{line}:{column}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


@dataclass(frozen=True)
class Range:
    """An exact number (`3`) or bounds (`{min: 1, max: 5}`, either side optional)."""

    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def __str__(self) -> str:
        if self.min is not None and self.min == self.max:
            return _num(self.min)
        parts = []
        if self.min is not None:
            parts.append(f">= {_num(self.min)}")
        if self.max is not None:
            parts.append(f"<= {_num(self.max)}")
        return " and ".join(parts) or "any value"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


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
    timeout: Seconds = Seconds(60.0)
    interval: Seconds = DEFAULT_POLL_INTERVAL
    id: str = ""


# --- expectations ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BaseExpect:
    """Fields shared by expectations. Each is polled until it holds or `timeout` passes."""

    key: ClassVar[str] = ""
    timeout: Seconds = DEFAULT_EXPECT_TIMEOUT
    interval: Seconds = DEFAULT_POLL_INTERVAL
    description: str = ""
    """Replaces the generated description in output and reports."""


@dataclass(frozen=True, kw_only=True)
class EnvelopeExpect(BaseExpect):
    """What etcd holds for objects: plaintext or an envelope, and its fields."""

    key: ClassVar[str] = "envelope"
    kind: ObjectKindName = "secrets"
    namespace: str = "default"
    name: str
    count: int = 1
    start: int = 0
    encrypted: bool | None = None
    """true: the value starts with k8s:enc:; false: stored in plaintext."""
    prefix: str | None = None
    """Exact value prefix, e.g. "k8s:enc:kms:v2:kms-provider:"."""
    provider: str | None = None
    """Provider name from the prefix."""
    key_id: str | None = None
    """"current", "previous", "initial" (the plugin's key history) or a literal key_id."""
    dek_source_type: Literal["AES_GCM_KEY", "HKDF_SHA256_XNONCE_AES_GCM_SEED"] | None = None
    stale: bool | None = None
    """Whether the next no-op update would rewrite it (key_id or provider no longer current)."""
    distinct_dek_sources: Range | None = None
    """How many distinct encryptedDEKSource values the objects carry (seeds in use)."""
    plugin: int = 0
    """Plugin whose key history resolves "current", "previous" and "initial"."""


@dataclass(frozen=True, kw_only=True)
class OutcomeExpect(BaseExpect):
    """The result of an operation of this step (checked once, not polled)."""

    key: ClassVar[str] = "outcome"
    of: str = ""
    """The operation's `id`; empty means the step's last operation."""
    ok: bool | None = None
    """true: every request succeeded; false: every request failed."""
    code: int | None = None
    """HTTP status code of every request, e.g. 500."""
    message: str | None = None
    """Text every request's message contains."""
    succeeded: Range | None = None
    """How many requests succeeded (for operations over many objects)."""
    items: Range | None = None
    """Objects a list returned."""
    rewritten: Range | None = None
    """Objects a migration rewrote (they were stale)."""
    total: Range | None = None
    """Objects a migration visited."""


@dataclass(frozen=True, kw_only=True)
class PluginCallsExpect(BaseExpect):
    """KMS calls the plugin answered during this step (deltas), by method."""

    key: ClassVar[str] = "pluginCalls"
    plugin: int | AllOr = "all"
    code: str = ""
    """Count only calls that ended with this gRPC code (e.g. OK); empty counts all."""
    encrypt: Range | None = None
    decrypt: Range | None = None
    status: Range | None = None


@dataclass(frozen=True, kw_only=True)
class HealthExpect(BaseExpect):
    """A health endpoint's HTTP status and body."""

    key: ClassVar[str] = "health"
    path: str = "/healthz/kms-providers"
    apiserver: int = 0
    ok: bool | None = None
    status: int | None = None
    contains: str | None = None
    not_contains: str | None = None


@dataclass(frozen=True, kw_only=True)
class MetricExpect(BaseExpect):
    """A metric's value, summed over series whose labels include `labels`."""

    key: ClassVar[str] = "metric"
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label subset; values may use ${keyHash:current} and friends."""
    value: Range | None = None
    absent: bool = False
    """true: no series matches at all."""
    apiserver: int = 0


@dataclass(frozen=True, kw_only=True)
class ProbeExpect(BaseExpect):
    """The latest Status probe an apiserver made during this step, and what it concluded."""

    key: ClassVar[str] = "probe"
    provider: str = ""
    apiserver: int | None = None
    """Only probes made by this apiserver; empty means any."""
    ok: bool | None = None
    healthz: str | None = None
    key_id: str | None = None
    error: str | None = None
    """Text the probe's error contains."""


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
Expectation = EnvelopeExpect | OutcomeExpect | PluginCallsExpect | HealthExpect | MetricExpect | ProbeExpect

OPERATION_TYPES: tuple[type[Any], ...] = Operation.__args__
EXPECTATION_TYPES: tuple[type[Any], ...] = Expectation.__args__


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    narrative: str = ""
    """Markdown shown in the UI and the CLI before the step runs."""
    operations: tuple[Operation, ...] = ()
    expect: tuple[Expectation, ...] = ()

    @property
    def expectations(self) -> tuple[Expectation, ...]:
        return self.expect


@dataclass(frozen=True, kw_only=True)
class Differential:
    """How the sim-versus-local differential test (tests/differential) compares this scenario."""

    ignore: tuple[Literal["operations", "expectations", "calls", "objects"], ...] = ()
    """Transcript categories left out of the comparison because they are timing-bound on a real
    apiserver (e.g. how many probes fit in a real minute); everything else must match."""
    steps: tuple[int, ...] = ()
    """Step numbers (from 1) the ignore applies to; empty means every step."""
    reason: str = ""
    """Why those differences are timing-bound and not a simulator bug."""


@dataclass(frozen=True, kw_only=True)
class Metadata:
    name: str
    """Catalogue name, lowercase with dashes."""
    title: str
    summary: str
    """One line for `kms-sandbox scenarios`."""
    teaches: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    """Upstream reports it reproduces, e.g. "kubernetes/kubernetes#131853"."""
    backends: tuple[Literal["sim", "local", "kind"], ...] = ("sim", "local", "kind")
    parameters: Mapping[str, int | float | str | bool] = field(default_factory=dict)
    """Parameter names and defaults, overridable with --set NAME=VALUE."""
    differential: Differential = field(default_factory=Differential)
    """What the sim-versus-local differential test may leave out, and why."""


@dataclass(frozen=True, kw_only=True)
class RemoteLatency:
    encrypt: float = 0.0
    decrypt: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PluginSettings:
    api: Literal["v2", "v2beta1", "v2alpha1", "v1"] = "v2"
    """KMS API the plugin serves; "v2" means whatever the Kubernetes release demands."""
    apis: tuple[Literal["v2", "v2beta1", "v2alpha1", "v1"], ...] = ()
    """One API per plugin instance, e.g. [v2, v1]; sets the count and overrides `api`."""
    count: int = 1
    """Plugin instances; apiserver i uses plugin i mod count through $PLUGIN_ENDPOINT."""
    remote_latency_ms: RemoteLatency = field(default_factory=RemoteLatency)


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    kube_version: str = ""
    """Kubernetes release, e.g. "1.34"; empty means the backend default."""
    apiservers: int = 1
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    encryption_config: str | Mapping[str, Any] = ""
    """The EncryptionConfiguration the apiservers start with (YAML text or a mapping)."""


@dataclass(frozen=True, kw_only=True)
class ScenarioDocument:
    """The file as written: apiVersion, kind, metadata, cluster, plugin, steps."""

    api_version: Literal["kms-sandbox/v1"]
    kind: Literal["Scenario"]
    metadata: Metadata
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    plugin: PluginSettings = field(default_factory=PluginSettings)
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario with its parameters substituted. What the runner, CLI and UI use."""

    document: ScenarioDocument
    path: Path
    parameter_values: Mapping[str, int | float | str | bool]
    """The values in effect (defaults overridden by --set)."""
    source: str = ""
    """The file's text (for reports)."""

    @property
    def name(self) -> str:
        return self.document.metadata.name

    @property
    def title(self) -> str:
        return self.document.metadata.title

    @property
    def summary(self) -> str:
        return self.document.metadata.summary

    @property
    def teaches(self) -> tuple[str, ...]:
        return self.document.metadata.teaches

    @property
    def issues(self) -> tuple[str, ...]:
        return self.document.metadata.issues

    @property
    def backends(self) -> tuple[str, ...]:
        return self.document.metadata.backends

    @property
    def parameters(self) -> Mapping[str, int | float | str | bool]:
        """Parameter name -> default."""
        return self.document.metadata.parameters

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.document.steps

    @property
    def cluster(self) -> ClusterSettings:
        return self.document.cluster

    @property
    def plugin(self) -> PluginSettings:
        return self.document.plugin

    @property
    def plugin_count(self) -> int:
        return len(self.plugin.apis) or self.plugin.count

    def with_parameters(self, overrides: Mapping[str, str]) -> Scenario:
        """The same scenario re-loaded with `--set` overrides; raises ScenarioError on bad ones."""
        if not overrides:
            return self
        from sandbox.scenarios.loader import load_text

        return load_text(self.source, self.path, overrides)


BUNDLED_DIR_NAME = "scenarios"


def load_scenario(path: Path, overrides: Mapping[str, str] | None = None) -> Scenario:
    """Loads and validates a scenario file; raises ScenarioError (`file:line:col: message`)."""
    from sandbox.scenarios.loader import load_file

    return load_file(Path(path), overrides or {})


def bundled_scenarios() -> list[Scenario]:
    """The catalogue shipped with kms-sandbox, in file-name order."""
    from sandbox.scenarios.loader import bundled_paths

    return [load_scenario(p) for p in bundled_paths()]


def find_scenario(name_or_path: str | Path) -> Scenario:
    """A bundled scenario by name, or a scenario file by path."""
    from sandbox.scenarios.loader import find

    return find(str(name_or_path))
