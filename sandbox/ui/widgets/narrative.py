"""The running lesson: the current step's story, progress, and every expectation as it lands.

A failed expectation shows what was expected next to what was observed, which is the whole
point of a teaching run: the learner sees the apiserver disagree with their mental model.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, ProgressBar, Static

from sandbox.ui.widgets.panel import Panel

FREE_PLAY = """\
**Free play.** Pick a scenario and press **s** to step through it, or play directly:
**c** create a secret, **C** create 100, **g** read all, **r** rotate the KEK, **o** outage,
**j** jump the clock, **m** migrate. **?** lists every key; **ctrl+p** opens the command palette.
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
        self.set_static("#expectations", self._expectations_text())
        self.set_static("#activity", "\n".join(list(self.model.log)[-8:]))

    def _expectations_text(self) -> Text:
        progress = self.model.scenario
        out = Text()
        for op in progress.operations[-6:]:
            if op.step != progress.step_index:
                continue
            out.append("  · " if op.ok else "  ✗ ", style="dim" if op.ok else "red")
            out.append(f"{op.operation}: {op.summary or op.error}\n", style="dim" if op.ok else "red")
        for exp in progress.expectations:
            if exp.step != progress.step_index:
                continue
            out.append("  ✓ " if exp.ok else "  ✗ ", style="bold green" if exp.ok else "bold red")
            out.append(exp.description + "\n")
            if not exp.ok:
                out.append(f"      expected {exp.expected}\n", style="green")
                out.append(f"      observed {exp.observed}\n", style="red")
        for failure in progress.failures:
            out.append(f"  ✗ {failure}\n", style="red")
        out.rstrip()
        return out
