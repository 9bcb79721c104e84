"""Plain data shared by the plugin's service core, its control servicer and the control client.

Nothing here knows about protobuf or gRPC: the servicer and the client translate these to and
from `control.proto` messages, so the UI and scenarios deal only with these dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

OutageMode = Literal["none", "unavailable", "hang"]
OUTAGE_MODES: tuple[OutageMode, ...] = ("none", "unavailable", "hang")

KeyIdMode = Literal["real", "empty", "too-long", "custom"]
KEY_ID_MODES: tuple[KeyIdMode, ...] = ("real", "empty", "too-long", "custom")

FAULT_METHODS: tuple[str, ...] = ("Status", "Encrypt", "Decrypt", "Version", "*")


@dataclass(frozen=True)
class ApiFlavour:
    """What `--api` selects: the proto package served and the version string reported."""

    name: str
    package: str
    """gRPC package, i.e. the method-path prefix: /<package>.KeyManagementService/..."""
    version: str
    """StatusResponse.version (v2 flavours) or VersionResponse.version (v1)."""


API_FLAVOURS: Mapping[str, ApiFlavour] = {
    "v2": ApiFlavour("v2", "v2", "v2"),
    "v2beta1": ApiFlavour("v2beta1", "v2", "v2beta1"),
    "v2alpha1": ApiFlavour("v2alpha1", "v2alpha1", "v2alpha1"),
    "v1": ApiFlavour("v1", "v1beta1", "v1beta1"),
}


@dataclass(frozen=True)
class HealthOverride:
    """What Status reports instead of the truth; the defaults mean "report the truth"."""

    healthz: str = "ok"
    key_id_mode: KeyIdMode = "real"
    custom_key_id: str = ""
    version: str = ""
    """"" means the version the served API demands."""

    @property
    def is_default(self) -> bool:
        return self == HealthOverride()


@dataclass(frozen=True)
class Fault:
    """An injected misbehaviour for one KMS method ("*" = every method)."""

    method: str
    latency_ms: float = 0.0
    code: str = ""
    """Canonical gRPC code name ("INTERNAL"); "" adds latency only."""
    message: str = ""
    count: int = 0
    """Remaining calls it applies to; 0 = until cleared."""
    probability: float = 0.0
    """Chance a call is affected; 0 = always."""
    id: str = ""


ANNOTATION_VALUE_MAX_BYTES = 1 << 20
ANNOTATIONS_MAX_TOTAL_BYTES = 2 << 20
"""Caps on an override, far above the apiserver's 32 KiB limit but well inside gRPC's 4 MiB."""


@dataclass(frozen=True)
class AnnotationOverride:
    """Annotations Encrypt returns besides (or, with `replace`, instead of) the plugin's own.

    For the apiserver's "failed to validate annotations" lessons (catalogue ENV-4): a key that
    is not a dotted FQDN, or values over the 32 KiB total. Decrypt ignores annotations it does
    not know, so ciphertexts wrapped meanwhile still decrypt.
    """

    extra: Mapping[str, bytes] = field(default_factory=dict)
    replace: bool = False

    @property
    def is_default(self) -> bool:
        return not self.extra and not self.replace

    def problem(self, own_key: str, own_value: bytes) -> str:
        """Why this override cannot be applied ("" when it can)."""
        if any(not key for key in self.extra):
            return "annotation keys must not be empty"
        if self.extra.get(own_key, own_value) != own_value:
            return f"annotation {own_key} is the plugin's own (it must stay {own_value!r} for Decrypt)"
        biggest = max((len(v) for v in self.extra.values()), default=0)
        if biggest > ANNOTATION_VALUE_MAX_BYTES:
            return f"an annotation value is {biggest} bytes; expected at most {ANNOTATION_VALUE_MAX_BYTES}"
        total = sum(len(k.encode()) + len(v) for k, v in self.extra.items())
        if total > ANNOTATIONS_MAX_TOTAL_BYTES:
            return f"annotations total {total} bytes; expected at most {ANNOTATIONS_MAX_TOTAL_BYTES}"
        return ""


@dataclass(frozen=True)
class KeyView:
    key_id: str
    created: float
    current: bool


@dataclass(frozen=True)
class PluginStateView:
    """A snapshot of the plugin, as `plugin status` and the UI show it. No key material."""

    api: str
    current_key_id: str
    keys: tuple[KeyView, ...]
    retired_key_ids: tuple[str, ...] = ()
    health: HealthOverride = field(default_factory=HealthOverride)
    outage: OutageMode = "none"
    faults: tuple[Fault, ...] = ()
    counters: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(method, gRPC code name) -> calls."""
    remote_latency_ms: tuple[float, float] = (0.0, 0.0)
    """(Encrypt, Decrypt) cost-model latency."""
    listen: str = ""
    started: float = 0.0
    pid: int = 0
    keyring_sync_paused: bool = False
    """True while this instance lags: it ignores changes other replicas make to the keyring."""
    annotations: AnnotationOverride = field(default_factory=AnnotationOverride)
