"""What the simulated apiserver's callers see: settings, responses and the start error.

Kept apart from `sandbox.sim.apiserver` so the backend, the reload controller and the tests can
name these types without the apiserver's machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.core.releases import ReleaseProfile

RESOURCES = ("secrets", "configmaps")
RELOAD_HOOK = "start-encryption-provider-config-automatic-reload"
"""The post-start hook that runs the reload controller (INT-10 checks it is `ok`)."""
KINDS = {"secrets": "Secret", "configmaps": "ConfigMap"}


class ApiserverStartError(Exception):
    """The apiserver could not start (a fatal config error); the message is upstream's."""


@dataclass(frozen=True)
class ApiResponse:
    """One API call's outcome, as kubectl would see it."""

    code: int
    reason: str = ""
    message: str = ""
    resource_version: str = ""
    data: Mapping[str, bytes] = field(default_factory=dict)
    items: tuple[str, ...] = ()
    stale: bool = False

    @property
    def ok(self) -> bool:
        return self.code < 400


def internal_error(error: str) -> ApiResponse:
    return ApiResponse(500, "InternalError", f"Internal error occurred: {error}")


def read_error(release: ReleaseProfile, key: str, error: str) -> ApiResponse:
    """A GET (or the read inside PUT/DELETE) whose stored value did not transform.

    1.32+ (KEP-3926) reports a corrupt object: `key` is the storage key without the storage
    prefix (`/secrets/<ns>/<name>`); the real v1.37.2 shows ResourceVersion 0 and revision=0.
    """
    if not release.corrupt_object_errors:
        return internal_error(error)
    revision = " revision=0" if release.corrupt_error_revision else ""
    return internal_error(
        f"StorageError: corrupt object, Code: 7, Key: {key}, ResourceVersion: 0, "
        f"AdditionalErrorMsg: data from the storage is not transformable{revision}: {error}"
    )


def list_read_error(release: ReleaseProfile, resource: str, error: str) -> ApiResponse:
    """A LIST with values that did not transform: 1.32+ answers `StoreReadError` for the lot."""
    if not release.corrupt_object_errors:
        return internal_error(error)
    return ApiResponse(500, "StoreReadError", f"failed to read one or more {resource} from the storage")


@dataclass(frozen=True)
class ApiserverSettings:
    release: ReleaseProfile
    config_path: Path
    index: int = 0
    storage_prefix: str = "/registry"
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    automatic_reload: bool = True
    apiserver_id: str = ""
    """Identity behind the `apiserver_id_hash` label ("" → `sim-apiserver-<index>`)."""
    watch_cache: bool = True
    """Model the watch cache: an initial LIST decoding every object after start, and one more
    decode of every new value (upstream's metric counts show it)."""
    fail_fast_when_down: bool = False
    """Answer DeadlineExceeded at once when nothing listens on a plugin socket (virtual time)."""
