"""The running lesson: the current step's story, progress, and every expectation as it lands.

A failed expectation shows what was expected next to what was observed, which is the whole
point of a teaching run: the learner sees the apiserver disagree with their mental model.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, ProgressBar, Static

from sandbox.ui.widgets.panel import Panel

FREE_PLAY = """\
**Free play.** Pick a scenario and press **s** to step through it, or play directly:
**c** create a secret, **C** create 100, **g** read all, **r** rotate the KEK, **o** outage,
**j** jump the clock, **m** migrate, **L** process logs. **?** lists every key; **ctrl+p** opens
the command palette.
"""


class NarrativePanel(Panel):
    PANEL = "narrative"
    TITLE = "Narrative"

    DEFAULT_CSS = """
    NarrativePanel > #narrative-heading { height: auto; }
    NarrativePanel > ProgressBar { height: 1; }
    NarrativePanel > VerticalScroll { height: 1fr; }
    NarrativePanel #narrative-text { margin: 0; }
    NarrativePanel #expectations { height: auto; }
    NarrativePanel #activity { height: auto; color: $text-muted; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("", id="narrative-heading")
        yield ProgressBar(total=1, show_eta=False, id="narrative-progress")
        with VerticalScroll():
            yield Markdown(FREE_PLAY, id="narrative-text")
            yield Static("", id="expectations")
            yield Static("", id="activity")

    def refresh_view(self) -> None:
        progress = self.model.scenario
        heading = Text()
        if progress.name:
            heading.append(progress.title or progress.name, style="bold")
            if progress.step_index >= 0:
                heading.append(f"  step {progress.step_index + 1}/{progress.steps}: {progress.step_name}")
            if progress.done is not None:
                heading.append(
                    "  PASSED" if progress.done else "  FAILED",
                    style="bold green" if progress.done else "bold red",
                )
        else:
            heading.append("No scenario running", style="dim")
        self.set_static("#narrative-heading", heading)
        bar = self.query_one("#narrative-progress", ProgressBar)
        bar.update(total=max(progress.steps, 1), progress=len(progress.finished_steps))
        narrative = progress.narrative if progress.name and progress.narrative else FREE_PLAY
        if narrative != getattr(self, "_narrative", None):
            self._narrative = narrative
            self.query_one("#narrative-text", Markdown).update(narrative)
        self._draw_lines()

    def _draw_lines(self) -> None:
        """Expectations and recent activity, as rows whose wrapped lines stay indented."""
        expectations = self._expectation_rows()
        activity = list(self.model.log)[-8:]
        key = (expectations, tuple(activity))
        if key == getattr(self, "_lines_key", None):
            return  # a Table never compares equal: skip the layout pass ourselves
        self._lines_key = key
        self.query_one("#expectations", Static).update(hanging_rows(expectations))
        self.query_one("#activity", Static).update(
            hanging_rows(tuple((time, ("", rest)) for time, _, rest in (a.partition(" ") for a in activity)))
        )

    def _expectation_rows(self) -> tuple[tuple[str, tuple[str, str]], ...]:
        """(marker, (style, text)) rows for the current step's operations and expectations."""
        progress = self.model.scenario
        rows: list[tuple[str, tuple[str, str]]] = []
        for op in progress.operations[-6:]:
            if op.step == progress.step_index:
                rows.append(
                    (
                        "·" if op.ok else "✗",
                        ("dim" if op.ok else "red", f"{op.operation}: {op.summary or op.error}"),
                    )
                )
        for exp in progress.expectations:
            if exp.step != progress.step_index:
                continue
            rows.append(("✓" if exp.ok else "✗", ("" if exp.ok else "bold", exp.description)))
            if not exp.ok:
                rows.append(("", ("green", f"expected {exp.expected}")))
                rows.append(("", ("red", f"observed {exp.observed}")))
        rows += [("✗", ("red", failure)) for failure in progress.failures]
        return tuple(rows)


MARKER_STYLES = {"✓": "bold green", "✗": "bold red", "·": "dim"}


def hanging_rows(rows: tuple[tuple[str, tuple[str, str]], ...]) -> Table:
    """A borderless two-column grid: the marker (or time) left, the text wrapping beside it."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(ratio=1)
    for marker, (style, text) in rows:
        grid.add_row(Text(marker, style=MARKER_STYLES.get(marker, "dim")), Text(text, style=style))
    return grid
