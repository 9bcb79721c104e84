"""The dashboard on the fake backend with a frozen clock: what the snapshot tests photograph."""

from __future__ import annotations

from sandbox.ui.app import SandboxApp
from tests.ui.fake_backend import fake_control_factory, fake_factory


def make_app() -> SandboxApp:
    return SandboxApp("fake", factory=fake_factory, control_factory=fake_control_factory, clock_speed=0.0)


app = make_app()

if __name__ == "__main__":
    app.run()
