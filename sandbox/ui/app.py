"""The kms-sandbox terminal UI: run scenarios and watch envelope encryption live.

The app paints its first frame before it touches the backend: the backend is built and started
in a worker after that frame, and its event bus reaches the panels through the EventPump at ten
flushes a second. The app holds no KMS logic; it wires keys to actions (sandbox.ui.actions), the
event stream to the view model (sandbox.ui.model) and fetchers to panels (sandbox.ui.fetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable
from functools import partial
from pathlib import Path

from textual import on
from textual.app import App
from textual.screen import Screen

from sandbox.backends.base import BackendOptions
from sandbox.core import events as ev
from sandbox.ui import fetch
from sandbox.ui.commands import SandboxCommands
from sandbox.ui.event_pump import FLUSH_INTERVAL_S, EventPump
from sandbox.ui.free_play import Deferred, FreePlayApp
from sandbox.ui.messages import ActionFailed, BackendChanged, EventsFlushed, PanelDataReady
from sandbox.ui.model import PANELS, DashboardModel
from sandbox.ui.refresher import Refresher
from sandbox.ui.scenario_control import ScenarioControl
from sandbox.ui.screens.dashboard import DashboardScreen
from sandbox.ui.session import BackendFactory, ControlFactory, Session, default_factory
from sandbox.ui.widgets.envelope_panel import EnvelopePanel
from sandbox.ui.widgets.scenario_browser import ScenarioBrowser

READY_FILE_ENV = "KMS_SANDBOX_READY_FILE"
"""When set, the app appends the Unix time of its first painted frame to this file (bench/tui_startup.py)."""


class SandboxApp(FreePlayApp):
    TITLE = "kms-sandbox"
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute, so subclasses elsewhere find it
    COMMANDS = App.COMMANDS | {SandboxCommands}

    def __init__(
        self,
        backend_name: str = "sim",
        options: BackendOptions | None = None,
        *,
        factory: BackendFactory = default_factory,
        control_factory: ControlFactory | None = None,
        clock_speed: float | None = None,
        ready_file: str | None = None,
        handle_signals: bool = False,
    ) -> None:
        super().__init__()
        self.model = DashboardModel()
        self.model.backend_name = backend_name
        self.session = Session(backend_name, options or BackendOptions(), factory, control_factory)
        self.pump = EventPump(self)
        self.scenarios = ScenarioControl(self.session, self.model, self._post_backend_state)
        self._ready_file = ready_file if ready_file is not None else os.environ.get(READY_FILE_ENV)
        self._handle_signals = handle_signals
        self._speed_override = clock_speed
        self._advancing = False
        self._latency_step = 0
        self._created = 0
        self._refreshers = {
            "objects": Refresher(self._fetch_objects),
            "health": Refresher(self._fetch_health),
            "keyring": Refresher(self._fetch_keyring),
        }

    # --- lifecycle ---------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen(self.model)

    def on_mount(self) -> None:
        self.set_interval(FLUSH_INTERVAL_S, self.pump.flush)
        self.set_interval(1.0, self._tick)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        if self._ready_file:
            with open(self._ready_file, "a", encoding="utf-8") as out:
                out.write(f"{time.time()}\n")
        self.run_worker(self._load_catalogue(), group="catalogue", exit_on_error=False)
        self.run_worker(self._start_backend(), group="backend", exclusive=True, exit_on_error=False)

    async def _load_catalogue(self) -> None:
        try:
            self.model.catalogue = await asyncio.to_thread(self.scenarios.catalogue)
        except Exception as exc:
            self.model.catalogue_error = str(exc)
        self.post_message(PanelDataReady(frozenset({"scenarios"})))

    async def _start_backend(self) -> None:
        backend = self.session.backend or self.session.build()
        self.pump.attach(backend.events)
        self.post_message(BackendChanged("starting"))
        try:
            await self.session.start()
        except Exception as exc:
            self.post_message(BackendChanged("failed", str(exc)))
            return
        if self._speed_override is not None:
            self.model.clock_speed = self._speed_override
        elif not backend.VIRTUAL_TIME:
            self.model.clock_speed = 0.0  # real time passes by itself on real backends
        self.model.now = backend.now()
        self.post_message(BackendChanged("running"))
        self._refresh_all()

    def _post_backend_state(self, state: str, detail: str) -> None:
        if state == "stopping":
            # Work still running on the outgoing backend would land in the next backend's view.
            for group in ("actions", "clock", *(f"fetch-{name}" for name in self._refreshers)):
                self.workers.cancel_group(self, group)
            self._advancing = False  # a clock worker cancelled before it started never resets it
        self.post_message(BackendChanged(state, detail))

    async def on_unmount(self) -> None:
        self.pump.detach()
        await self.session.stop()

    async def action_quit(self) -> None:
        self.model.activity = "stopping the backend…"
        self.redraw(set())
        with contextlib.suppress(Exception):
            await self.session.stop()
        self.exit(0)

    # --- the event stream and fetched data ---------------------------------------------------
    @on(EventsFlushed)
    def _events_flushed(self, message: EventsFlushed) -> None:
        if message.generation != self.pump.generation:
            return  # flushed from a backend that has been swapped out since
        dirty = self.model.apply(message.events)
        if self.model.written_keys or self.model.deleted_keys:
            self._refresh("objects")
        # Cached probes are what our own health fetch causes: refreshing on them would loop.
        kinds = {e.kind for e in message.events if not (isinstance(e, ev.StatusProbed) and e.cached)}
        if kinds & {ev.PluginStateChanged.kind, ev.ApiserverLifecycle.kind}:
            self._refresh("keyring")
        if kinds & {ev.HealthChanged.kind, ev.StatusProbed.kind, ev.ApiserverLifecycle.kind}:
            self._refresh("health")
        self.redraw(dirty)

    @on(PanelDataReady)
    def _panel_data_ready(self, message: PanelDataReady) -> None:
        self.redraw(message.panels)

    @on(BackendChanged)
    def _backend_changed(self, message: BackendChanged) -> None:
        self.model.backend_state, self.model.backend_error = message.state, message.detail
        backend = self.session.backend
        if message.state == "running" and backend is not None:
            self.model.now = max(self.model.now, backend.now())
        if message.state == "failed":
            self.model.panel_errors["status"] = f"backend failed to start: {message.detail}"
            self.notify(message.detail, title="Backend failed to start", severity="error", timeout=15)
        # Every panel: after a swap the model describes a new backend, and tables drop old rows.
        self.redraw(set(PANELS))

    @on(ActionFailed)
    def _action_failed(self, message: ActionFailed) -> None:
        self.model.activity = f"{message.action} failed"
        if message.panel:
            self.model.panel_errors[message.panel] = f"{message.action}: {message.error}"
        self.notify(message.error, title=f"{message.action} failed", severity="error", timeout=10)
        self.redraw({message.panel} if message.panel else set())

    @on(EnvelopePanel.ObjectSelected)
    def _object_selected(self, message: EnvelopePanel.ObjectSelected) -> None:
        backend = self.session.backend
        if backend is not None and self.session.running:
            work = partial(fetch.fetch_selected, backend, self.model, message.key)
            self._guarded("inspect", "envelope", work, quiet=True)

    @on(ScenarioBrowser.StartRequested)
    def _start_requested(self, message: ScenarioBrowser.StartRequested) -> None:
        self._scenario_action("start", lambda: self.scenarios.start(message.name, self.pump))

    def _refresh(self, name: str) -> None:
        if name == "health" and self.scenario_busy:
            return  # see FreePlayApp._scenario_job: it refreshes everything when the step is done
        if self.session.running:
            fetch = Deferred(self._refreshers[name].request)
            self.run_worker(fetch, group=f"fetch-{name}", exit_on_error=False)

    def _refresh_all(self) -> None:
        for name in self._refreshers:
            self._refresh(name)

    async def _fetch_objects(self) -> None:
        backend = self.session.backend
        assert backend is not None
        keys, self.model.written_keys = self.model.written_keys, set()
        self.model.deleted_keys.clear()
        await self._into_panels("envelope", fetch.fetch_objects(backend, self.model, keys or None))

    async def _fetch_health(self) -> None:
        assert self.session.backend is not None
        await self._into_panels("health", fetch.fetch_health(self.session.backend, self.model))

    async def _fetch_keyring(self) -> None:
        await self._into_panels("keyring", fetch.fetch_keyring(self.session, self.model))

    async def _into_panels(self, panel: str, work: Awaitable[set[str]]) -> None:
        try:
            panels = await work
            if panel != "keyring":  # keyring fetch errors live in model.plugin_error
                self.model.panel_errors.pop(panel, None)
        except Exception as exc:
            self.model.panel_errors[panel] = str(exc) or type(exc).__name__
            panels = {panel}
        self.post_message(PanelDataReady(frozenset(panels)))

    def _tick(self) -> None:
        backend = self.session.backend
        if backend is None or not self.session.running:
            return
        speed = self.model.clock_speed
        if backend.VIRTUAL_TIME and speed > 0 and not self._advancing and not self.scenario_busy:
            self._advancing = True
            advance = Deferred(partial(self._advance_clock, speed))
            self.run_worker(advance, group="clock", exit_on_error=False)
        self.model.now = max(self.model.now, backend.now())
        self.redraw({"status"})

    async def _advance_clock(self, seconds: float) -> None:
        try:
            assert self.session.backend is not None
            await self.session.backend.advance(seconds)
        except Exception as exc:
            self.model.clock_speed = 0.0
            self.post_message(ActionFailed("clock", str(exc), "status"))
        finally:
            self._advancing = False


def run_app(backend_name: str, options: BackendOptions) -> int:
    """Runs the UI until the learner quits; the backend is stopped before this returns."""
    app = SandboxApp(backend_name, options, handle_signals=True)
    result = app.run()
    return int(result or 0)


__all__ = ["READY_FILE_ENV", "SandboxApp", "run_app"]
