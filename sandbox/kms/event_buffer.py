"""The plugin's recent-events buffer and its live watchers (what WatchEvents streams).

Every KMS call and control change is numbered and kept (the last `EVENT_BUFFER`) so a late
subscriber gets a short replay, then pushed to each watcher's queue. A stalled watcher loses
events rather than slowing KMS calls down. Runs on the plugin's one asyncio loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

from sandbox.core.events import Event, EventBus

EVENT_BUFFER = 1000
WATCH_QUEUE = 10_000

Item = tuple[int, Event]
"""(sequence number, event)."""


class EventBuffer:
    def __init__(self, bus: EventBus | None = None) -> None:
        self._bus = bus
        self._seq = itertools.count(1)
        self.events: deque[Item] = deque(maxlen=EVENT_BUFFER)
        self._watchers: set[asyncio.Queue[Item | None]] = set()

    def emit(self, event: Event) -> None:
        item = (next(self._seq), event)
        self.events.append(item)
        for queue in self._watchers:
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                pass  # a stalled watcher loses events rather than slowing KMS calls
        if self._bus is not None:
            self._bus.publish(event)

    def watch(self, replay: int) -> tuple[list[Item], asyncio.Queue[Item | None]]:
        """Recent events (at most `replay`) and a queue of everything after them."""
        queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=WATCH_QUEUE)
        past = list(self.events)[-replay:] if replay > 0 else []
        self._watchers.add(queue)
        return past, queue

    def unwatch(self, queue: asyncio.Queue[Item | None]) -> None:
        self._watchers.discard(queue)

    def close_watchers(self) -> None:
        """Ends every watch stream (shutdown): each queue gets a final None."""
        for queue in self._watchers:
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
