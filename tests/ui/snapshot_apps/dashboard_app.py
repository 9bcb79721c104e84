"""The dashboard on the fake backend with a frozen clock and a fixed catalogue, for snapshots."""

from __future__ import annotations

from pathlib import Path

from sandbox.scenarios.model import Scenario, load_scenario
from sandbox.ui.app import SandboxApp
from tests.ui.fake_backend import fake_control_factory, fake_factory

DEMO = Path(__file__).with_name("demo-scenario.yaml")


def fixed_catalogue() -> list[Scenario]:
    return [load_scenario(DEMO)]


def make_app() -> SandboxApp:
    app = SandboxApp("fake", factory=fake_factory, control_factory=fake_control_factory, clock_speed=0.0)
    app.scenarios.catalogue = fixed_catalogue  # type: ignore[method-assign]
    return app


app = make_app()

if __name__ == "__main__":
    app.run()
