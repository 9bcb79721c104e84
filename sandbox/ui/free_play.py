"""Key bindings and free-play actions: what the learner can do, by key or command palette.

Every action runs in a worker through `_guarded`, so a failing backend or plugin call becomes a
notification plus an error line in the panel concerned, never a traceback. The app subclass
(sandbox.ui.app) owns the lifecycle and the event stream; this base owns only the verbs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from sandbox.ui import actions
from sandbox.ui.event_pump import EventPump
from sandbox.ui.messages import ActionFailed, PanelDataReady
from sandbox.ui.model import DashboardModel
from sandbox.ui.scenario_control import ScenarioControl
from sandbox.ui.screens.dashboard import TABS, DashboardScreen
from sandbox.ui.screens.help import HelpScreen
from sandbox.ui.session import Session
from sandbox.ui.widgets.scenario_browser import ScenarioBrowser

LATENCY_STEPS_MS = (0.0, 50.0, 500.0, 2500.0)
SPEEDS = (0.0, 1.0, 10.0, 60.0)


class Deferred(Awaitable[None]):
    """Work for run_worker whose coroutine is made only when the worker awaits it.

    A backend swap cancels free-play workers, some before they started: a coroutine made up
    front would then never be awaited (and Python warns about it).
    """

    def __init__(self, make: Callable[[], Awaitable[None]]) -> None:
        self._make = make

    def __await__(self) -> Generator[Any, None, None]:
        return self._make().__await__()


class FreePlayApp(App[int]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start_scenario", "Start"),
        Binding("n", "step", "Step"),
        Binding("a", "run_all", "Run all"),
        Binding("c", "create(1)", "Create"),
        Binding("C", "create(100)", "Create 100", show=False),
        Binding("g", "read_all", "Read all", show=False),
        Binding("r", "rotate", "Rotate"),
        Binding("o", "outage('unavailable')", "Outage"),
        Binding("h", "outage('hang')", "Hang", show=False),
        Binding("l", "cycle_latency", "Latency", show=False),
        Binding("k", "restart_apiserver", "Restart apiserver", show=False),
        Binding("m", "migrate", "Migrate", show=False),
        Binding("j", "advance(60)", "+1 min"),
        Binding("J", "advance(600)", "+10 min", show=False),
        Binding("plus", "cycle_speed", "Clock speed", key_display="+", show=False),
        Binding("f", "refresh", "Refresh", show=False),
        Binding("L", "toggle_logs", "Process logs", show=False),
        *(Binding(str(i + 1), f"show_tab({i})", f"Tab {i + 1}", show=False) for i in range(len(TABS))),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    session: Session
    model: DashboardModel
    pump: EventPump
    scenarios: ScenarioControl
    _created = 0
    scenario_busy = False
    _latency_step = 0

    @property
    def dashboard(self) -> DashboardScreen | None:
        """The dashboard, or None while the app is starting or shutting down."""
        stack = self.screen_stack if self.is_running else []
        screen = stack[0] if stack else None
        return screen if isinstance(screen, DashboardScreen) else None

    def redraw(self, panels: set[str] | frozenset[str]) -> None:
        if (dashboard := self.dashboard) is not None:
            dashboard.redraw(panels)

    def _refresh_all(self) -> None:
        """Re-fetches every panel's data (the app subclass implements it)."""

    # --- actions -----------------------------------------------------------------------------
    def _guarded(
        self,
        label: str,
        panel: str,
        work: Callable[[], Awaitable[object]],
        announce: bool = False,
        quiet: bool = False,
    ) -> None:
        """Runs `work` in a worker; a failure becomes a notification and a panel error, never a traceback.

        The top bar shows what a learner's action is doing; `quiet` work (fetches the UI makes
        by itself) leaves it alone.
        """
        if not self.session.running:
            self.notify("the backend is not running yet", severity="warning")
            return

        async def job() -> None:
            if not quiet:
                self.model.activity = f"{label}…"
            try:
                outcome = await work()
            except Exception as exc:
                self.post_message(ActionFailed(label, str(exc) or type(exc).__name__, panel))
                return
            if not quiet:
                self.model.activity = str(outcome) if isinstance(outcome, str) else ""
            if announce and isinstance(outcome, str):
                self.notify(outcome, title=label)
            self.model.panel_errors.pop(panel, None)
            self.post_message(PanelDataReady(frozenset({panel})))

        self.run_worker(Deferred(job), group="actions", exit_on_error=False)

    def _backend_action(self, label: str, panel: str, work: Callable[[], Awaitable[object]]) -> None:
        self._guarded(label, panel, work, announce=True)

    def _scenario_action(self, label: str, work: Callable[[], Awaitable[object]]) -> None:
        if self.scenario_busy:
            # Never cancel a running step halfway: its expectations would be checked on half a story.
            self.notify("a scenario step is running; try again when it has finished", severity="warning")
            return
        if (dashboard := self.dashboard) is not None:
            dashboard.show_panel("narrative")
        self.scenario_busy = True  # set now, so a second key press before the worker starts is refused
        self.run_worker(
            Deferred(partial(self._scenario_job, label, work)), group="scenario", exit_on_error=False
        )

    async def _scenario_job(self, label: str, work: Callable[[], Awaitable[object]]) -> None:
        # While busy the UI clock holds still (the runner moves time itself) and no health fetch
        # runs: a health request makes a cached Status probe, which the step's checks would see.
        try:
            outcome = await work()
        except Exception as exc:
            self.post_message(ActionFailed(f"scenario {label}", str(exc) or type(exc).__name__, "narrative"))
            return
        finally:
            self.scenario_busy = False
            self._refresh_all()
        if isinstance(outcome, str) and outcome:
            self.notify(outcome, title="Scenario")

    def action_start_scenario(self) -> None:
        dashboard = self.dashboard
        name = dashboard.query_one(ScenarioBrowser).selected_name if dashboard is not None else ""
        if name:
            self._scenario_action("start", lambda: self.scenarios.start(name, self.pump))

    def action_step(self) -> None:
        self._scenario_action("step", self.scenarios.step)

    def action_run_all(self) -> None:
        self._scenario_action("run all", self.scenarios.run_all)

    def action_create(self, count: int) -> None:
        backend, first = self.session.backend, self._created
        self._created += count
        if backend is not None:
            work = partial(actions.create_secrets, backend, count, first)
            self._guarded(f"create {count}", "envelope", work, announce=count >= 1000)

    def action_read_all(self) -> None:
        if (backend := self.session.backend) is not None:
            self._backend_action("read all", "envelope", lambda: actions.read_all(backend))

    def action_rotate(self) -> None:
        self._backend_action("rotate", "keyring", lambda: actions.rotate(self.session))

    def action_retire(self) -> None:
        self._backend_action("retire", "keyring", lambda: actions.retire_previous(self.session))

    def action_outage(self, mode: str) -> None:
        self._backend_action(f"outage {mode}", "keyring", lambda: actions.toggle_outage(self.session, mode))

    def action_restore(self) -> None:
        self._backend_action("restore plugin", "keyring", lambda: actions.restore_plugin(self.session))

    def action_cycle_latency(self) -> None:
        self._latency_step = (self._latency_step + 1) % len(LATENCY_STEPS_MS)
        self.action_latency(LATENCY_STEPS_MS[self._latency_step])

    def action_latency(self, milliseconds: float) -> None:
        self._backend_action("latency", "keyring", lambda: actions.set_latency(self.session, milliseconds))

    def action_restart_apiserver(self, index: int | None = None) -> None:
        if (backend := self.session.backend) is not None:
            self._backend_action("restart", "status", lambda: actions.restart_apiserver(backend, index))

    def action_migrate(self) -> None:
        if (backend := self.session.backend) is not None:
            self._backend_action("migrate", "envelope", lambda: actions.migrate(backend))

    def action_advance(self, seconds: float) -> None:
        if (backend := self.session.backend) is not None:
            self._guarded("clock", "status", lambda: actions.advance(backend, seconds))

    def action_cycle_speed(self) -> None:
        current = self.model.clock_speed
        self.model.clock_speed = (
            SPEEDS[(SPEEDS.index(current) + 1) % len(SPEEDS)] if current in SPEEDS else 1.0
        )
        self.notify(f"clock ×{self.model.clock_speed:g}" if self.model.clock_speed else "clock paused")
        self.redraw(set())

    def action_set_speed(self, speed: float) -> None:
        self.model.clock_speed = speed
        self.redraw(set())

    def action_refresh(self) -> None:
        self._refresh_all()

    def action_show_tab(self, index: int) -> None:
        if (dashboard := self.dashboard) is not None:
            dashboard.show_panel(TABS[index][1].PANEL)

    def action_toggle_logs(self) -> None:
        if (dashboard := self.dashboard) is not None:
            dashboard.toggle_logs()

    def action_help(self) -> None:
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))
