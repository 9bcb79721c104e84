"""The simulator in real time (virtual_time=False): the clock's timers really fire."""

from __future__ import annotations

import asyncio

from sandbox.backends.base import BackendOptions
from sandbox.backends.factory import make_backend
from sandbox.sim.clock import RealClock


async def test_real_clock_timers_fire_and_cancel() -> None:
    clock = RealClock()
    fired: list[str] = []

    async def mark(name: str) -> None:
        fired.append(name)

    clock.call_later(0.05, lambda: mark("a"))
    cancelled = clock.call_later(0.05, lambda: mark("b"))
    cancelled.cancel()
    await asyncio.sleep(0.3)
    assert fired == ["a"]


async def test_sim_backend_runs_on_real_time() -> None:
    backend = make_backend("sim", BackendOptions(virtual_time=False))
    async with backend:
        created = await backend.create("secrets", "default", "rt", {"k": b"v"})
        assert created.ok, created.message
        read = await backend.get("secrets", "default", "rt")
        assert read.ok and read.data == {"k": b"v"}
