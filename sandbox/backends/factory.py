"""Picks a backend by name; imports lazily so the simulator never pays for kubernetes or kind."""

from __future__ import annotations

from sandbox.backends.base import Backend, BackendError, BackendOptions
from sandbox.core.events import EventBus

BACKEND_NAMES = ("sim", "local", "kind")


def make_backend(name: str, options: BackendOptions, events: EventBus | None = None) -> Backend:
    """Builds (does not start) the backend called `name`: "sim", "local" or "kind"."""
    if name == "sim":
        from sandbox.backends.sim import SimBackend

        return SimBackend(options, events)
    if name == "local":
        from sandbox.backends.local.backend import LocalBackend

        return LocalBackend(options, events)
    if name == "kind":
        from sandbox.backends.kind.backend import KindBackend

        return KindBackend(options, events)
    raise BackendError(f"unknown backend {name!r}: expected one of {', '.join(BACKEND_NAMES)}")
