"""What changes between Kubernetes releases, as data (kmsv2-spec.md sections 1, 2.4, 4, 6, 7, 10).

The simulator never asks "is this 1.28?" in its logic; it asks the profile a question such as
`profile.fast_retry_after_failed_start`. One frozen `ReleaseProfile` per minor release 1.25 to
the newest (`sandbox.core.versions`) answers every such question, so a reader can see in one
table what each release does. `profile_for("v1.34.2")` picks one; `""` means the newest.

The spec documents behaviour through 1.36 (its HEAD equals v1.36.3). Newer minors are modelled
as 1.36 and say so in `ReleaseProfile.note`; the local backend's differential tests run the
real apiserver of the newest release against the simulator.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sandbox.core.errors import ValidationError
from sandbox.core.versions import NEWEST_KUBE_MINOR

DekStrategy = Literal["per-write", "counter", "seed"]
"""per-write: new DEK and one Encrypt per write (1.25/1.26); counter: one DEK per start and key_id
change with a counter nonce (1.27, 1.28 with KDF off); seed: HKDF seed mode (1.28 KDF on, 1.29+)."""

GateState = Literal["absent", "alpha", "beta", "ga-locked", "deprecated", "removed"]

MIN_MINOR = 25
DOCUMENTED_THROUGH = 36
"""The newest minor kmsv2-spec.md describes; later minors behave as this one."""
MAX_MINOR = max(NEWEST_KUBE_MINOR, DOCUMENTED_THROUGH)


@dataclass(frozen=True)
class FeatureGate:
    """One feature gate as a release defines it."""

    state: GateState
    default: bool
    locked: bool = False
    """GA gates locked to their default cannot be turned off (setting them is an error upstream)."""


@dataclass(frozen=True)
class ReleaseProfile:
    """Everything release-dependent the simulator and the plugin need (spec 10.1)."""

    minor: int
    gates: Mapping[str, FeatureGate] = field(default_factory=dict)
    """Gates the release knows, by name ("KMSv2", "KMSv2KDF", "KMSv1")."""
    plugin_package: Literal["v2alpha1", "v2"] = "v2"
    """gRPC package of the KMS v2 plugin API the apiserver dials (method prefix)."""
    status_versions: tuple[str, ...] = ("v2", "v2beta1")
    """StatusResponse.version values the apiserver accepts."""
    version_fixed_after_first: bool = True
    """1.29+: a later Status version different from the first one seen is an error."""
    expected_version_text: str = "v2"
    """The version named in `expected KMSv2 API version <v>, got <x>`."""
    dek_strategy_default: DekStrategy = "seed"
    kdf_configurable: bool = False
    """1.28 only: `KMSv2KDF` decides between counter and seed mode."""
    encrypted_object_has_type: bool = True
    """EncryptedObject field 5 exists (1.28+); before, every object is AES_GCM_KEY."""
    key_id_staleness: bool = True
    """Reads are stale when the object's keyID differs from the current one (1.27+)."""
    type_staleness: bool = True
    """Reads are stale when the object's DEK source type differs from the current mode (1.28+)."""
    cache_kind: Literal["lru", "expiring"] = "expiring"
    """v2 read cache: LRU of `cachesize` (1.25/1.26) or unbounded 24 h expiring (1.27+)."""
    strict_limits: bool = True
    """Size limits and FQDN annotation keys are enforced (1.26+); 1.25 checks non-empty only."""
    unique_kms_names: bool = True
    v2_cachesize_accepted: bool = False
    kms_on_livez: bool = False
    """KMS health checks are also on /livez (before 1.29)."""
    merged_kms_check: bool = True
    """`kms-providers` merges the KMS checks when reload is on or only v2 is configured (1.26+)."""
    reload_detection: Literal["none", "fsnotify", "poll"] = "poll"
    error_key_id_form: Literal["none", "raw", "hash"] = "hash"
    """How error texts name a key_id: not at all (1.25/1.26), raw (1.27), as a sha256 hash (1.28+)."""
    strict_config_decoding: bool = True
    config_hash_format: Literal["none", "unstable", "sha256"] = "sha256"
    fast_retry_after_failed_start: bool = True
    """1.28+: a failed first probe starts a 10 s retry loop."""
    envelope_metrics: bool = True
    """key_id_hash_*, invalid_key_id_from_status_total, kms_operations_latency_seconds (1.27+)."""
    dek_source_cache_size_metric: bool = True
    apiserver_id_hash_label: bool = True
    transformation_resource_label: bool = True
    """`resource` label on apiserver_storage_transformation_operations_total (1.32+)."""
    reload_last_timestamp_metric: bool = True
    reload_success_failure_counters: bool = False
    """automatic_reload_success_total / _failures_total (1.28–1.33)."""
    automatic_reloads_total_metric: bool = True
    last_config_info_metric: bool = True
    authority_localhost: bool = True
    corrupt_object_errors: bool = True
    """Read-path transform failures come back as `StorageError: corrupt object, Code: 7, ...`
    (KEP-3926, 1.32+); before, as the bare transformer error."""
    corrupt_error_revision: bool = True
    """The corrupt-object text carries ` revision=<n>` after "not transformable" (seen on 1.37.2;
    dated 1.34 from upstream's integration-test expectations, not verified per release)."""
    documented_through: int = DOCUMENTED_THROUGH
    """The newest minor the spec documents; a newer release is modelled as that one."""

    @property
    def name(self) -> str:
        return f"1.{self.minor}"

    @property
    def modelled_as(self) -> str:
        """The documented release whose behaviour this profile reproduces ("1.36" for 1.37)."""
        return f"1.{min(self.minor, self.documented_through)}"

    @property
    def note(self) -> str:
        """A line for the CLI/UI when the release is newer than the spec; "" otherwise."""
        if self.minor <= self.documented_through:
            return ""
        return (
            f"{self.name} behaves as {self.modelled_as} per the spec; verified against the real "
            "apiserver by the local backend's differential tests"
        )

    def gate_enabled(self, gate: str, overrides: Mapping[str, bool] | None = None) -> bool:
        """Whether `gate` is on with the given --feature-gates; removed GA gates count as on."""
        spec = self.gates.get(gate)
        if spec is None:
            return gate in ("KMSv2", "KMSv2KDF") and self.minor >= 32
        if spec.locked or overrides is None or gate not in overrides:
            return spec.default
        return bool(overrides[gate])

    def dek_strategy(self, feature_gates: Mapping[str, bool] | None = None) -> DekStrategy:
        """The DEK strategy in force with these feature gates (1.28: KMSv2KDF picks the mode)."""
        if self.kdf_configurable:
            return "seed" if self.gate_enabled("KMSv2KDF", feature_gates) else "counter"
        return self.dek_strategy_default

    def format_key_id(self, key_id: str, key_id_hash: str) -> str:
        """How error texts of this release quote a key_id (hash since 1.28, raw in 1.27)."""
        return key_id if self.error_key_id_form == "raw" else key_id_hash


def _gates(minor: int) -> dict[str, FeatureGate]:
    gates: dict[str, FeatureGate] = {}
    if minor <= 26:
        gates["KMSv2"] = FeatureGate("alpha", False)
    elif minor <= 28:
        gates["KMSv2"] = FeatureGate("beta", True)
    elif minor <= 31:
        gates["KMSv2"] = FeatureGate("ga-locked", True, locked=True)
    if minor == 28:
        gates["KMSv2KDF"] = FeatureGate("beta", False)
    elif 29 <= minor <= 31:
        gates["KMSv2KDF"] = FeatureGate("ga-locked", True, locked=True)
    gates["KMSv1"] = FeatureGate("deprecated" if minor >= 28 else "absent", minor <= 28)
    return gates


def _profile(minor: int) -> ReleaseProfile:
    if minor > DOCUMENTED_THROUGH:
        # The spec's HEAD (master) equals 1.36.3: newer minors keep 1.36's behaviour.
        return dataclasses.replace(_profile(DOCUMENTED_THROUGH), minor=minor)
    early = minor <= 26
    return ReleaseProfile(
        minor=minor,
        gates=_gates(minor),
        plugin_package="v2alpha1" if early else "v2",
        status_versions=("v2alpha1",) if early else ("v2beta1",) if minor <= 28 else ("v2", "v2beta1"),
        version_fixed_after_first=minor >= 29,
        expected_version_text="v2alpha1" if early else "v2beta1" if minor <= 28 else "v2",
        dek_strategy_default="per-write" if early else "counter" if minor <= 28 else "seed",
        kdf_configurable=minor == 28,
        encrypted_object_has_type=minor >= 28,
        key_id_staleness=minor >= 27,
        type_staleness=minor >= 28,
        cache_kind="lru" if early else "expiring",
        strict_limits=minor >= 26,
        unique_kms_names=minor >= 26,
        v2_cachesize_accepted=early,
        kms_on_livez=minor <= 28,
        merged_kms_check=minor >= 26,
        reload_detection="none" if minor == 25 else "fsnotify" if minor <= 28 else "poll",
        error_key_id_form="none" if early else "raw" if minor == 27 else "hash",
        strict_config_decoding=minor >= 31,
        config_hash_format="none" if minor <= 28 else "unstable" if minor <= 33 else "sha256",
        fast_retry_after_failed_start=minor >= 28,
        envelope_metrics=minor >= 27,
        dek_source_cache_size_metric=minor >= 29,
        apiserver_id_hash_label=minor >= 29,
        transformation_resource_label=minor >= 32,
        reload_last_timestamp_metric=minor >= 28,
        reload_success_failure_counters=28 <= minor <= 33,
        automatic_reloads_total_metric=minor >= 30,
        last_config_info_metric=minor >= 34,
        authority_localhost=minor >= 32,
        corrupt_object_errors=minor >= 32,
        corrupt_error_revision=minor >= 34,
    )


PROFILES: dict[int, ReleaseProfile] = {m: _profile(m) for m in range(MIN_MINOR, MAX_MINOR + 1)}
NEWEST: ReleaseProfile = PROFILES[MAX_MINOR]
SUPPORTED = tuple(p.name for p in PROFILES.values())

_VERSION = re.compile(r"^v?1\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


def profile_for(version: str) -> ReleaseProfile:
    """The profile for "1.34", "v1.34.2" or "1.34.0-rc.1"; "" gives the newest supported release."""
    text = version.strip()
    if not text:
        return NEWEST
    match = _VERSION.match(text)
    if match is None:
        raise ValidationError(
            f"unsupported Kubernetes version {version!r}: expected a release like 1.34 or v1.34.2 "
            f"between {SUPPORTED[0]} and {SUPPORTED[-1]}"
        )
    minor = int(match.group(1))
    if minor not in PROFILES:
        raise ValidationError(
            f"unsupported Kubernetes version {version!r}: "
            f"KMS v2 is modelled for {SUPPORTED[0]} to {SUPPORTED[-1]}"
        )
    return PROFILES[minor]
