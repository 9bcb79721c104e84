"""The process log view's state: LogLine and WaitProgress events, bounded and coalesced.

A real backend's processes (plugin, apiservers, etcd, kind) log through LogLine events, and a
real backend waiting out real time reports WaitProgress every few seconds. Shown raw, a retrying
process or a ten-minute wait would flood the view, so the log keeps the last LOG_KEPT entries,
folds a line repeated back to back into one entry with a count, and updates one progress entry
in place per wait. Pure Python (no Textual): the widget draws `entries`, tests fold events here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sandbox.core import events as ev

LOG_KEPT = 500


@dataclass
class LogEntry:
    time: float
    source: str
    level: str
    text: str
    repeats: int = 1
    progress_of: str = ""
    """For a WaitProgress entry: which wait it tracks (later progress of it updates this entry)."""


def wait_text(event: ev.WaitProgress) -> str:
    bar_width = 10
    filled = round(bar_width * event.waited / event.total) if event.total > 0 else bar_width
    bar = "█" * filled + "░" * (bar_width - filled)
    what = f" ({event.reason})" if event.reason else ""
    return f"waiting real time{what} {bar} {event.waited:.0f}/{event.total:.0f} s"


def one_line(text: str) -> str:
    """Process output can hold newlines and tabs; the view shows one entry per line."""
    return " ⏎ ".join(part.rstrip() for part in text.strip().splitlines()).replace("\t", " ")


class ProcessLog:
    """The last `kept` log entries, with repeats and wait progress folded in place."""

    def __init__(self, kept: int = LOG_KEPT) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=kept)
        self.version = 0
        """Bumped on every change, so the view redraws only when something was added."""
        self.folded = 0
        """Events folded into existing entries (repeats and progress updates)."""

    def add(self, event: ev.Event) -> bool:
        """Folds a LogLine or WaitProgress in; False (and no change) for any other event."""
        if isinstance(event, ev.LogLine):
            self._add_line(event)
        elif isinstance(event, ev.WaitProgress):
            self._add_progress(event)
        else:
            return False
        self.version += 1
        return True

    def _add_line(self, event: ev.LogLine) -> None:
        text = one_line(event.text)
        last = self.entries[-1] if self.entries else None
        if (
            last is not None
            and not last.progress_of
            and (last.source, last.level, last.text) == (event.source, event.level, text)
        ):
            last.repeats += 1
            last.time = event.time
            self.folded += 1
            return
        self.entries.append(LogEntry(event.time, event.source, event.level, text))

    def _add_progress(self, event: ev.WaitProgress) -> None:
        wait = f"{event.source}:{event.reason}:{event.total:g}"
        last = self.entries[-1] if self.entries else None
        if last is not None and last.progress_of == wait:
            last.text, last.time = wait_text(event), event.time
            self.folded += 1
            return
        self.entries.append(LogEntry(event.time, event.source, "info", wait_text(event), progress_of=wait))
