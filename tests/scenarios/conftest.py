"""Fixtures for scenario tests: run a scenario on the real simulator with the real plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import pytest

from sandbox.backends.factory import make_backend
from sandbox.core.events import EventBus
from sandbox.scenarios.model import Scenario
from sandbox.scenarios.runner import RunResult, ScenarioRun, backend_options_for

DATA = Path(__file__).parent / "data"

RunScenario = Callable[..., Awaitable[tuple[RunResult, EventBus]]]


@pytest.fixture
def run_on_sim(short_tmp: Path) -> RunScenario:
    """Runs a scenario on a fresh SimBackend (state under a short temp dir) and stops it."""

    async def run(
        scenario: Scenario,
        params: Mapping[str, str] | None = None,
        after: Callable[[ScenarioRun, RunResult], Awaitable[None]] | None = None,
    ) -> tuple[RunResult, EventBus]:
        bus = EventBus(history=100_000)
        options = backend_options_for(scenario, params, state_dir=str(short_tmp / scenario.name[:8]))
        async with make_backend("sim", options, bus) as backend:
            run = ScenarioRun(backend, scenario, params)
            result = await run.run()
            if after is not None:
                await after(run, result)
        return result, bus

    return run
