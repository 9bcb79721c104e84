"""What the backend's processes said: LogLine and WaitProgress events, one line each.

The entries come folded from `sandbox.ui.process_log` (repeats counted, a wait's progress
updated in place), so the view stays short under a retrying process. Lines are cut with an
ellipsis rather than wrapped: a log is scanned by its start, and wrapping would hide how many
entries there are.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from sandbox.ui.model import clock_text
from sandbox.ui.process_log import LogEntry
from sandbox.ui.widgets.panel import Panel

LOG_ROWS = 200
"""Entries drawn (the model keeps more); the newest are at the bottom."""
LEVEL_STYLES = {"debug": "dim", "warning": "yellow", "error": "bold red"}
EMPTY = (
    "No log lines yet. Backends report their processes here: start-up notes, a plugin event "
    "stream that ended, and on local and kind the progress of waits in real time."
)


def entry_text(entry: LogEntry) -> Text:
    line = Text(end="")
    line.append(f"{clock_text(entry.time)} ", style="dim")
    line.append(f"{entry.source or '-'}: ", style="bold")
    line.append(entry.text, style=LEVEL_STYLES.get(entry.level, ""))
    if entry.repeats > 1:
        line.append(f"  ×{entry.repeats}", style="bold cyan")
    return line


class LogPanel(Panel):
    PANEL = "logs"
    TITLE = "Process logs"

    DEFAULT_CSS = """
    LogPanel > VerticalScroll { height: 1fr; }
    LogPanel #log-lines { width: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        self._drawn: tuple[int, int] = (-1, -1)
        with VerticalScroll(id="log-scroll"):
            yield Static(Text(EMPTY, style="dim"), id="log-lines")

    def refresh_view(self) -> None:
        log = self.model.process_log
        drawn = (self.model.generation, log.version)  # a new backend's log restarts at version 0
        if drawn == self._drawn:
            return
        self._drawn = drawn
        entries = list(log.entries)[-LOG_ROWS:]
        if not entries:
            self.set_static("#log-lines", Text(EMPTY, style="dim"))
            return
        scroll = self.query_one("#log-scroll", VerticalScroll)
        following = scroll.scroll_y >= scroll.max_scroll_y  # keep a reader's place if scrolled up
        lines = Text("\n", no_wrap=True, overflow="ellipsis").join(entry_text(e) for e in entries)
        self.set_static("#log-lines", lines)
        if following:
            scroll.call_after_refresh(scroll.scroll_end, animate=False)
