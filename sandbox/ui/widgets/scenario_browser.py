"""The scenario catalogue: pick a lesson, read what it teaches and its parameters, start it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Markdown, OptionList
from textual.widgets.option_list import Option

from sandbox.ui.widgets.panel import Panel


class ScenarioBrowser(Panel):
    PANEL = "scenarios"
    TITLE = "Scenarios · s start · n step · a run all"

    DEFAULT_CSS = """
    ScenarioBrowser > OptionList, ScenarioBrowser > OptionList:focus {
        height: 1fr; min-height: 4; border: none; padding: 0;
        /* One line per lesson: a wrapped title has no indent and reads as two entries.
           The detail below shows the whole title. */
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    ScenarioBrowser > #scenario-detail { height: 2fr; margin: 0; }
    ScenarioBrowser > #scenario-detail > * { margin: 0 0 1 0; }
    """

    class StartRequested(Message):
        """The learner chose a scenario (Enter on the list)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def compose_body(self) -> ComposeResult:
        self._listed: list[str] = []
        yield OptionList(id="scenario-list")
        yield Markdown("Loading the catalogue…", id="scenario-detail")

    @property
    def selected_name(self) -> str:
        options = self.query_one("#scenario-list", OptionList)
        index = options.highlighted
        if index is None or not self._listed:
            return ""
        return self._listed[index]

    def refresh_view(self) -> None:
        model = self.model
        options = self.query_one("#scenario-list", OptionList)
        names = [s.name for s in model.catalogue]
        markers = [(name, name == model.running_scenario) for name in names]
        if markers != getattr(self, "_markers", None):
            highlighted = options.highlighted
            options.clear_options()
            options.add_options(
                Option(f"{'▶ ' if running else '  '}{s.title}", id=s.name)
                for s, (_, running) in zip(model.catalogue, markers, strict=True)
            )
            self._listed, self._markers = names, markers
            if names:
                options.highlighted = highlighted if highlighted is not None else 0
        if model.catalogue_error:
            self.query_one("#scenario-detail", Markdown).update(
                f"**Catalogue failed to load:** {model.catalogue_error}"
            )
        elif not names:
            self.query_one("#scenario-detail", Markdown).update("No scenarios are bundled yet.")
            return
        self._show_detail()

    @on(OptionList.OptionHighlighted, "#scenario-list")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(OptionList.OptionSelected, "#scenario-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.StartRequested(event.option.id))

    def _show_detail(self) -> None:
        name = self.selected_name
        scenario = next((s for s in self.model.catalogue if s.name == name), None)
        if scenario is None:
            return
        lines = [
            f"**{scenario.title}**",
            "",
            scenario.summary,
            "",
        ]  # headings do not wrap: a long title was cut
        if scenario.teaches:
            lines += ["**Teaches**", "", *(f"- {t}" for t in scenario.teaches), ""]
        if scenario.parameters:
            params = ", ".join(f"`{k}={v}`" for k, v in scenario.parameters.items())
            lines += [f"**Parameters** {params}", ""]
        if scenario.issues:
            lines += [f"**Reproduces** {', '.join(scenario.issues)}", ""]
        lines.append(f"*{len(scenario.steps)} steps · `{scenario.name}`*")
        detail = "\n".join(lines)
        if detail != getattr(self, "_detail", None):
            self._detail = detail
            self.query_one("#scenario-detail", Markdown).update(detail)
