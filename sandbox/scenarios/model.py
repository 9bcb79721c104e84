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
from typing import Any, Literal

from sandbox.scenarios.model_expectations import (
    DEFAULT_EXPECT_TIMEOUT,
    DEFAULT_POLL_INTERVAL,
    EXPECTATION_TYPES,
    AllOr,
    BaseExpect,
    EnvelopeExpect,
    Expectation,
    HealthExpect,
    MetricExpect,
    ObjectKindName,
    OutcomeExpect,
    PluginCallsExpect,
    ProbeExpect,
    Range,
    Seconds,
)
from sandbox.scenarios.model_operations import (
    OPERATION_TYPES,
    AdvanceOp,
    CreateOp,
    DeleteOp,
    GetOp,
    ListOp,
    MigrateOp,
    ObjectsOp,
    Operation,
    PluginAnnotationsOp,
    PluginFaultOp,
    PluginHealthOp,
    PluginLagOp,
    PluginLatencyOp,
    PluginOp,
    PluginOutageOp,
    PluginRestoreOp,
    PluginStartOp,
    PluginStopOp,
    PollHealthOp,
    RestartApiserverOp,
    RetireKeyOp,
    RewriteEnvelopeOp,
    RotateKeyOp,
    SetEncryptionConfigOp,
    UpdateOp,
    WaitOp,
)

# The model is one namespace: the step vocabulary lives in two modules to keep each small.
__all__ = [
    "BUNDLED_DIR_NAME",
    "DEFAULT_EXPECT_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "EXPECTATION_TYPES",
    "OPERATION_TYPES",
    "AdvanceOp",
    "AllOr",
    "BaseExpect",
    "ClusterSettings",
    "CreateOp",
    "DeleteOp",
    "Differential",
    "EnvelopeExpect",
    "Expectation",
    "GetOp",
    "HealthExpect",
    "ListOp",
    "Metadata",
    "MetricExpect",
    "MigrateOp",
    "ObjectKindName",
    "ObjectsOp",
    "Operation",
    "OutcomeExpect",
    "PluginAnnotationsOp",
    "PluginCallsExpect",
    "PluginFaultOp",
    "PluginHealthOp",
    "PluginLagOp",
    "PluginLatencyOp",
    "PluginOp",
    "PluginOutageOp",
    "PluginRestoreOp",
    "PluginSettings",
    "PluginStartOp",
    "PluginStopOp",
    "PollHealthOp",
    "ProbeExpect",
    "Range",
    "RemoteLatency",
    "RestartApiserverOp",
    "RetireKeyOp",
    "RewriteEnvelopeOp",
    "RotateKeyOp",
    "Scenario",
    "ScenarioDocument",
    "ScenarioError",
    "Seconds",
    "SetEncryptionConfigOp",
    "Step",
    "UpdateOp",
    "WaitOp",
    "bundled_scenarios",
    "find_scenario",
    "load_scenario",
]


class ScenarioError(Exception):
    """A scenario file is wrong. `str()` is `file:line:column: message`, ready to print."""

    def __init__(self, message: str, path: str = "", line: int = 0, column: int = 0) -> None:
        self.path, self.line, self.column, self.detail = path, line, column, message
        where = f"{path}:{line}:{column}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


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
