"""Headless front ends of the event stream: a live console printer and a JSON-lines writer.

Both are plain subscribers of `EventBus`. The printer shows each step's narrative (Markdown),
every operation and expectation as it finishes, and a verdict; rich drops colour by itself when
the output is not a terminal (or NO_COLOR is set).
"""

from __future__ import annotations

import json
from typing import IO

from rich.console import Console
from rich.markdown import Markdown
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from sandbox.core.events import (
    Event,
    ExpectationChecked,
    LogLine,
    OperationFinished,
    ScenarioFinished,
    ScenarioStarted,
    StepFinished,
    StepStarted,
    WaitProgress,
)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


class ConsolePrinter:
    """Prints runner events as they happen."""

    def __init__(self, console: Console | None = None, narrative: bool = True) -> None:
        self.console = console or Console(highlight=False)
        self.narrative = narrative
        self._steps = 0

    def __call__(self, event: Event) -> None:
        out = self.console
        if isinstance(event, ScenarioStarted):
            self._steps = event.steps
            out.print(Rule(Text(f"{event.scenario}: {event.title}  [{event.backend}]", style="bold")))
        elif isinstance(event, StepStarted):
            out.print(Text(f"\nStep {event.index + 1}/{self._steps}: {event.name}", style="bold cyan"))
            if self.narrative and event.narrative.strip():
                out.print(Padding(Markdown(event.narrative.strip()), (0, 0, 0, 2)))
        elif isinstance(event, OperationFinished):
            out.print(Text(f"  → {event.summary}", style="" if event.ok else "yellow"))
            if event.error and not event.ok and event.error not in event.summary:
                out.print(Text(f"      {event.error}", style="yellow"))
        elif isinstance(event, ExpectationChecked):
            if event.ok:
                shown = event.observed and event.observed != event.expected and len(event.observed) < 100
                seen = f"  ({event.observed})" if shown else ""
                out.print(Text(f"  ✓ {event.description}{seen}", style="green"))
            else:
                out.print(Text(f"  ✗ {event.description}", style="bold red"))
                out.print(Text(f"      expected: {event.expected}", style="red"))
                out.print(Text(f"      observed: {event.observed}", style="red"))
        elif isinstance(event, WaitProgress) and event.total >= 30 and round(event.waited) % 30 == 0:
            # Real backends wait for real: a line every 30 s shows a minutes-long step is alive.
            why = f" ({event.reason})" if event.reason else ""
            out.print(Text(f"    … {_duration(event.waited)} of {_duration(event.total)}{why}", style="dim"))
        elif isinstance(event, LogLine) and event.level == "warning":
            out.print(Text(f"  ! {event.source}: {event.text}", style="yellow"))
        elif isinstance(event, StepFinished) and not event.ok:
            out.print(Text(f"  step {event.index + 1} failed", style="bold red"))
        elif isinstance(event, ScenarioFinished):
            verdict = "passed" if event.ok else "FAILED"
            text = f"{event.scenario} {verdict} in {_duration(event.duration_s)}"
            if event.virtual_s > event.duration_s + 1:
                text += f" ({_duration(event.virtual_s)} of cluster time)"
            out.print(Text(text, style="bold green" if event.ok else "bold red"))
            for failure in event.failures:
                out.print(Text(f"  - {failure}", style="red"))


class JsonLinesWriter:
    """Writes every event as one JSON object per line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_dict(), default=str) + "\n")
        self.stream.flush()
