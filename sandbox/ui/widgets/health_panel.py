"""The apiserver's KMS health endpoints and its apiserver_envelope_* metrics, as fetched."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from sandbox.ui.widgets.panel import Panel


class HealthPanel(Panel):
    PANEL = "health"
    TITLE = "Health & metrics"

    DEFAULT_CSS = """
    HealthPanel > #health-results { height: auto; }
    HealthPanel > VerticalScroll { height: 1fr; }
    HealthPanel #metric-lines { width: auto; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("not fetched yet", id="health-results")
        with VerticalScroll():
            yield Static("", id="metric-lines")

    def refresh_view(self) -> None:
        results = Text()
        for path, (code, body) in sorted(self.model.health_results.items()):
            results.append(f"{code} ", style="green" if code == 200 else "bold red")
            results.append(f"{path} ")
            first = body.strip().splitlines()[-1:] if body.strip() else []
            results.append(first[0][:100] if first else "", style="dim")
            results.append("\n")
        results.rstrip()
        # Empty again after a backend swap: say so rather than keep the old backend's answers.
        self.set_static("#health-results", results if results.plain else Text("not fetched yet", style="dim"))
        lines = self.model.metric_lines
        metrics = Text(
            "\n".join(lines) if lines else "no apiserver_envelope_* samples yet", style="" if lines else "dim"
        )
        self.set_static("#metric-lines", metrics)
