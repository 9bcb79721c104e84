"""Fixtures for the UI tests: the app on the deterministic fake backend, and helpers to wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual.command import Command, CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList

from sandbox.ui.app import SandboxApp
from tests.ui.fake_backend import FakeBackend, fake_control_factory, fake_factory


async def wait_for(
    condition: Callable[[], bool],
    timeout: float = 20.0,
    step: float = 0.05,
    explain: Callable[[], object] | None = None,
) -> None:
    """Polls `condition` on the running loop (the app keeps working meanwhile) until it holds.

    `explain` is called on a timeout, and its value goes into the failure message.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            detail = f": {explain()!r}" if explain is not None else ""
            raise AssertionError(f"condition did not hold in {timeout:g} s{detail}")
        await asyncio.sleep(step)


async def catalogue_listed(app: SandboxApp) -> None:
    """Waits until the scenario browser lists the catalogue (the model has it one redraw earlier).

    `s` before that starts nothing: the list is empty, so no scenario is highlighted.
    """
    await wait_for(lambda: bool(app.model.catalogue))
    options = app.query_one("#scenario-list", OptionList)
    await wait_for(lambda: options.option_count == len(app.model.catalogue))


def app_state(app: SandboxApp) -> dict[str, object]:
    """What a failed wait on the app should report: its backend, scenario and last messages."""
    return {
        "backend": app.model.backend_state,
        "backend_error": app.model.backend_error,
        "running": app.session.running,
        "scenario": app.model.running_scenario,
        "busy": app.scenario_busy,
        "activity": app.model.activity,
        "notifications": [f"{n.title}: {n.message}" for n in app._notifications],
    }


async def run_from_palette(pilot: Pilot[int], query: str, expected: str) -> None:
    """Opens the command palette, types `query` and runs the top hit once it is `expected`.

    The palette gathers hits in a worker and shows them in batches; pressing enter before the
    wanted hit is highlighted would run whatever is highlighted then (or nothing) under load.
    """
    await pilot.press("ctrl+p")
    await wait_for(lambda: isinstance(pilot.app.screen, CommandPalette))
    palette = pilot.app.screen
    await pilot.press(*query)

    def top_hit() -> str:
        hits = palette.query_one(CommandList)
        if hits.highlighted is None or hits.option_count == 0:
            return ""
        option = hits.get_option_at_index(hits.highlighted)
        return str(option.hit.text) if isinstance(option, Command) else ""

    await wait_for(lambda: top_hit() == expected)
    await pilot.press("enter")
    await wait_for(lambda: not isinstance(pilot.app.screen, CommandPalette))


@pytest.fixture
def fake_app() -> SandboxApp:
    return SandboxApp("fake", factory=fake_factory, control_factory=fake_control_factory, clock_speed=0.0)


def fake_backend_of(app: SandboxApp) -> FakeBackend:
    backend = app.session.backend
    assert isinstance(backend, FakeBackend)
    return backend
