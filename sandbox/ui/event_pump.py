"""Turns the backend's event bus into at most ten Textual messages a second.

The bus calls subscribers synchronously, possibly from a gRPC thread, and a 10,000-secret write
publishes tens of thousands of events. So the subscriber only appends to a deque (atomic in
CPython, never blocks the publisher) and a timer on the UI loop drains it into one
`EventsFlushed` message per tick: the panels redraw once per tick, not once per event.

Each attach starts a new generation. A batch already posted when the backend is swapped still
carries the old generation, so the app can drop it instead of folding the previous backend's
calls into the view of the new one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual.message_pump import MessagePump

from sandbox.core.events import Event, EventBus
from sandbox.ui.messages import EventsFlushed

FLUSH_INTERVAL_S = 0.1


class EventPump:
    """Buffers events from one bus at a time and flushes them to `target` as one message."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._buffer: deque[Event] = deque()
        self._unsubscribe: Callable[[], None] | None = None
        self.generation = 0
        """Bumped on every attach; batches are stamped with it."""

    def attach(self, bus: EventBus, replay: bool = True) -> None:
        """Follows `bus` (dropping any previous one); `replay` first takes its retained history."""
        self.detach()
        self.generation += 1
        self._unsubscribe = bus.subscribe(self._buffer.append, replay=replay)

    def detach(self) -> None:
        """Stops following the bus and drops what it buffered but did not flush yet."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        # A new deque rather than clear(): a publisher thread still inside the old subscriber
        # appends to the old deque, never into the next backend's buffer.
        self._buffer = deque()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Posts everything buffered as one EventsFlushed; returns how many events went."""
        batch: list[Event] = []
        buffer = self._buffer
        while buffer:
            batch.append(buffer.popleft())
        if batch:
            self._target.post_message(EventsFlushed(tuple(batch), self.generation))
        return len(batch)
