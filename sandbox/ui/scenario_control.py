"""Start, step and run a bundled scenario from the UI, on a backend built for it.

A scenario names its cluster (release, apiservers, plugin API), so starting one swaps the
session's backend for a fresh one with those options; the scenario runner then drives it and
publishes what happens on the new backend's event bus, which the pump follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.ui.event_pump import EventPump
from sandbox.ui.model import DashboardModel
from sandbox.ui.session import Session

if TYPE_CHECKING:
    from sandbox.scenarios.model import Scenario


BackendStateCallback = Callable[[str, str], None]
"""(state, detail): "starting", "running" or "failed" for the backend a scenario start swaps in."""


class ScenarioControl:
    def __init__(
        self, session: Session, model: DashboardModel, on_backend: BackendStateCallback | None = None
    ) -> None:
        self.session = session
        self.model = model
        self._on_backend = on_backend or (lambda state, detail: None)
        self.scenario: Scenario | None = None
        self._run: Any = None
        self._next = 0

    def catalogue(self) -> list[Scenario]:
        from sandbox.scenarios.model import bundled_scenarios

        return bundled_scenarios()

    async def start(self, name: str, pump: EventPump) -> str:
        """Stops the current backend, starts one built for scenario `name`, ready for step 1."""
        from sandbox.scenarios.runner import ScenarioRun, backend_options_for

        scenario = next((s for s in self.model.catalogue if s.name == name), None)
        if scenario is None:
            raise ValueError(f"no bundled scenario named {name!r}")
        options = backend_options_for(scenario, kube_version=self.session.options.kube_version)
        await self.close()
        pump.detach()
        self._on_backend("stopping", "")
        await self.session.stop()
        self.model.reset_backend_view()
        self.model.running_scenario = name
        backend = self.session.build(options)
        pump.attach(backend.events)
        self._on_backend("starting", "")
        try:
            await self.session.start()
        except Exception as exc:
            self._on_backend("failed", str(exc) or type(exc).__name__)
            raise
        self._on_backend("running", "")
        self.scenario, self._next = scenario, 0
        self._run = ScenarioRun(backend, scenario)
        self.model.next_step = 0
        return f"{scenario.title}: press n to run step 1 of {len(scenario.steps)}, a to run them all"

    async def step(self) -> str:
        """Runs the next step of the started scenario; after the last one, finishes the run."""
        run = self._started()
        index = self._next
        self._next += 1
        self.model.next_step = self._next
        result = await run.run_step(index)
        if self._next >= len(run.steps):
            return await self._finish()
        return "" if result.ok else f"step {index + 1} failed: the Narrative panel shows why"

    async def run_all(self) -> str:
        """Runs the remaining steps; stops at a failed step, as `kms-sandbox run` does."""
        outcome = ""
        while self._run is not None:
            outcome = await self.step()
            if outcome:
                break
        return outcome

    def _started(self) -> Any:
        if self._run is None:
            if self.scenario is not None:
                raise ValueError("the scenario has finished: press s to start it again")
            raise ValueError("no scenario started: highlight one in the Scenarios panel and press s")
        return self._run

    async def _finish(self) -> str:
        run, self._run = self._run, None
        result = run.finish()
        await run.close()
        self.model.running_scenario = ""
        return f"{result.scenario}: {'passed' if result.ok else 'FAILED'}"

    async def close(self) -> None:
        """Closes the running scenario's plugin connections (before its backend is stopped)."""
        if self._run is not None:
            run, self._run = self._run, None
            await run.close()
