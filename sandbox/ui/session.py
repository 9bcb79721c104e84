"""The backend the UI is looking at: built, started, swapped for a scenario's, always stopped.

The UI owns exactly one backend at a time. Starting a scenario swaps it for one built with the
scenario's options (release, number of apiservers, plugin API), so the old one is stopped first:
every process the app started is stopped before the next starts, and on exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sandbox.backends.base import Backend, BackendOptions
from sandbox.core.events import EventBus
from sandbox.kms.control_client import PluginControlClient

BackendFactory = Callable[[str, BackendOptions, EventBus], Backend]
ControlFactory = Callable[[str, str], PluginControlClient]
"""(endpoint, source) -> a control client; tests of the layout substitute a deterministic one."""
STOP_TIMEOUT_S = 20.0


def default_factory(name: str, options: BackendOptions, events: EventBus) -> Backend:
    from sandbox.backends.factory import make_backend

    return make_backend(name, options, events)


def default_control_factory(endpoint: str, source: str) -> PluginControlClient:
    return PluginControlClient(endpoint, source=source)


class Session:
    """Owns the current backend and the control clients of its plugins."""

    def __init__(
        self,
        backend_name: str,
        options: BackendOptions,
        factory: BackendFactory = default_factory,
        control_factory: ControlFactory | None = None,
    ) -> None:
        self.backend_name = backend_name
        self.options = options
        self._factory = factory
        self._control_factory = control_factory or default_control_factory
        self.backend: Backend | None = None
        self.running = False
        self._controls: dict[tuple[int, str], PluginControlClient] = {}
        self._lock = asyncio.Lock()

    def build(self, options: BackendOptions | None = None) -> Backend:
        """Builds (does not start) a backend with its own fresh event bus; stop the old one first."""
        self.options = options or self.options
        self.backend = self._factory(self.backend_name, self.options, EventBus())
        self.running = False
        return self.backend

    async def start(self) -> Backend:
        """Starts the built backend. On failure it is stopped again, so nothing is left running."""
        async with self._lock:
            backend = self.backend or self.build()
            try:
                await backend.start()
            except BaseException:
                await self._stop_backend(backend)
                raise
            self.running = True
            return backend

    async def stop(self) -> None:
        """Stops the backend and closes the control clients; idempotent and safe after a failed start."""
        async with self._lock:
            self.running = False  # first: no new control client may be made for a dying backend
            await self._close_controls()
            if self.backend is not None:
                await self._stop_backend(self.backend)

    async def _stop_backend(self, backend: Backend) -> None:
        await asyncio.wait_for(backend.stop(), STOP_TIMEOUT_S)

    def control(self, index: int = 0) -> PluginControlClient:
        """A control client for plugin `index` of the running backend (made once, reused).

        Clients are keyed by endpoint too: a fetch racing a backend swap must never get (and
        cache) a client of the backend that was just stopped.
        """
        if self.backend is None or not self.running:
            raise RuntimeError("the backend is not running")
        endpoint = self.backend.plugin_control_endpoint(index)
        key = (index, endpoint)
        if key not in self._controls:
            source = "plugin" if index == 0 else f"plugin-{index}"
            self._controls[key] = self._control_factory(endpoint, source)
        return self._controls[key]

    def forget_controls(self) -> None:
        """Drops clients after a plugin restart; their channels reconnect lazily anyway."""
        self._controls.clear()

    async def _close_controls(self) -> None:
        controls, self._controls = list(self._controls.values()), {}
        for client in controls:
            try:
                await client.close()
            except Exception:
                pass  # a dead plugin's channel has nothing left to close
