"""The simulator's sense of time: real, or virtual so that a 3-minute outage takes milliseconds.

Everything time-dependent in the simulated apiserver (probe loops, result TTLs, write expiry,
cache TTLs, reload polling) goes through one `Clock`. `VirtualClock` only moves when someone
calls `advance()`: it then fires every due timer in time order, *awaiting* each callback before
moving on. A timer callback may therefore make a real gRPC Status call to the plugin process and
reschedule itself, and the next timer still sees a consistent "now". Real work (gRPC round
trips, crypto) takes no virtual time; that keeps runs deterministic.
"""

from __future__ import annotations

import abc
import asyncio
import heapq
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

TimerCallback = Callable[[], Awaitable[None] | None]


@dataclass(order=True)
class TimerHandle:
    """A scheduled callback; `cancel()` makes it a no-op."""

    when: float
    seq: int
    callback: TimerCallback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    _real: asyncio.TimerHandle | None = field(default=None, compare=False, repr=False)

    # order=True makes dataclasses drop __hash__; the real clock keeps live handles in a set, and
    # two handles are never equal anyway (seq is unique per clock), so hash by identity.
    __hash__ = object.__hash__

    def cancel(self) -> None:
        self.cancelled = True
        if self._real is not None:
            self._real.cancel()


class Clock(abc.ABC):
    """Time as the simulated apiserver sees it (Unix seconds)."""

    virtual: bool = False

    @abc.abstractmethod
    def now(self) -> float: ...

    @abc.abstractmethod
    async def sleep(self, seconds: float) -> None: ...

    @abc.abstractmethod
    def call_at(self, when: float, callback: TimerCallback) -> TimerHandle: ...

    def call_later(self, delay: float, callback: TimerCallback) -> TimerHandle:
        return self.call_at(self.now() + max(0.0, delay), callback)

    @abc.abstractmethod
    async def advance(self, seconds: float) -> None:
        """Lets `seconds` pass: instantly (virtual) or by waiting (real)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most clocks hold nothing
        """Cancels every pending timer and any callback still running."""


async def _run_callback(callback: TimerCallback) -> None:
    result = callback()
    if inspect.isawaitable(result):
        await result


class RealClock(Clock):
    """Wall-clock time on the running asyncio loop."""

    def __init__(self) -> None:
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handles: set[TimerHandle] = set()

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_at(self, when: float, callback: TimerCallback) -> TimerHandle:
        handle = TimerHandle(when, next(self._seq), callback)

        def fire() -> None:
            self._handles.discard(handle)
            if handle.cancelled:
                return
            task = asyncio.get_running_loop().create_task(_run_callback(callback))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        handle._real = asyncio.get_running_loop().call_later(max(0.0, when - self.now()), fire)
        self._handles.add(handle)
        return handle

    async def advance(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def aclose(self) -> None:
        for handle in list(self._handles):
            handle.cancel()
        self._handles.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class VirtualClock(Clock):
    """Time that stands still until `advance()`; timers fire in order, awaited one by one."""

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        # Start at the real current time so timestamps (RFC3339 expiry texts) look natural.
        self._now = float(int(time.time())) if start is None else start
        self._timers: list[TimerHandle] = []
        self._seq = itertools.count()
        self._lock = asyncio.Lock()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: TimerCallback) -> TimerHandle:
        handle = TimerHandle(max(when, self._now), next(self._seq), callback)
        heapq.heappush(self._timers, handle)
        return handle

    async def sleep(self, seconds: float) -> None:
        """Waits until virtual time has been advanced past now + seconds."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(seconds, wake)
        try:
            await future
        finally:
            handle.cancel()

    def pending(self) -> list[float]:
        """When the pending timers are due (for tests and the UI's "next probe in" display)."""
        return sorted(t.when for t in self._timers if not t.cancelled)

    async def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot advance time by {seconds} s: expected a non-negative duration")
        # One advance at a time: a timer callback that itself advanced would reorder time.
        async with self._lock:
            target = self._now + seconds
            while self._timers and self._timers[0].when <= target:
                handle = heapq.heappop(self._timers)
                if handle.cancelled:
                    continue
                self._now = max(self._now, handle.when)
                await _run_callback(handle.callback)
                # Let tasks woken by the callback (sleepers) run before the next timer.
                for _ in range(3):
                    await asyncio.sleep(0)
            self._now = target

    async def aclose(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()


def make_clock(virtual: bool) -> Clock:
    return VirtualClock() if virtual else RealClock()
