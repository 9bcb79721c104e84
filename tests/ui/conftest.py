"""Fixtures for the UI tests: the app on the deterministic fake backend, and helpers to wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from sandbox.ui.app import SandboxApp
from tests.ui.fake_backend import FakeBackend, fake_control_factory, fake_factory


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> None:
    """Polls `condition` on the running loop (the app keeps working meanwhile) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition did not hold in time")
        await asyncio.sleep(step)


@pytest.fixture
def fake_app() -> SandboxApp:
    return SandboxApp("fake", factory=fake_factory, control_factory=fake_control_factory, clock_speed=0.0)


def fake_backend_of(app: SandboxApp) -> FakeBackend:
    backend = app.session.backend
    assert isinstance(backend, FakeBackend)
    return backend
