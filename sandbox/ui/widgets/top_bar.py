"""One line at the top: backend, release, run clock and speed, current write key, activity."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from sandbox.ui.model import DashboardModel, clock_text


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, model: DashboardModel) -> None:
        super().__init__("", id="top-bar")
        self.model = model

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        model = self.model
        text = Text()
        text.append(" kms-sandbox ", style="bold reverse")
        text.append(f" {model.backend_name or '?'} ")
        text.append(
            model.backend_state,
            style={"running": "green", "failed": "bold red"}.get(model.backend_state, "yellow"),
        )
        text.append(f"  ⏱ {clock_text(model.now)}")
        text.append(f" ×{model.clock_speed:g}" if model.clock_speed else " paused", style="dim")
        text.append(f"  key_id {model.current_key_id() or '-'}", style="bold")
        stale = model.stale_count()
        if stale:
            text.append(f"  {stale} stale", style="bold yellow")
        if model.scenario.name:
            text.append(f"  ▶ {model.scenario.name}", style="cyan")
        if model.activity:
            text.append(f"  {model.activity}", style="italic")
        if text != getattr(self, "_last_text", None):
            self._last_text = text
            self.update(text)
