"""Scenario expectations, and the value types every step uses (durations, ranges, kinds).

Part of the scenario model: `sandbox.scenarios.model` re-exports every name here. YAML keys are
the camelCase field names, each class names its one-key mapping in `key`, and field docstrings
become the descriptions in the generated JSON Schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NewType

Seconds = NewType("Seconds", float)
"""A duration: a number of seconds, or a string such as "500ms", "90s", "3m", "1h"."""

ObjectKindName = Literal["secrets", "configmaps"]
AllOr = Literal["all"]
DEFAULT_EXPECT_TIMEOUT = Seconds(10.0)
DEFAULT_POLL_INTERVAL = Seconds(1.0)
DEFAULT_WAIT_TIMEOUT = Seconds(60.0)


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


Expectation = EnvelopeExpect | OutcomeExpect | PluginCallsExpect | HealthExpect | MetricExpect | ProbeExpect

EXPECTATION_TYPES: tuple[type[Any], ...] = Expectation.__args__
