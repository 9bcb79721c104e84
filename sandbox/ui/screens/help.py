"""The help screen: every key binding of the app, and where the rest lives (the palette)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# kms-sandbox

Watch Kubernetes KMS v2 envelope encryption happen: every call the apiserver makes to the plugin,
every Status probe, and every value as it sits in etcd.

"""


def bindings_markdown(bindings: list[Binding]) -> str:
    rows = ["| key | what it does |", "|---|---|"]
    for binding in bindings:
        key = binding.key_display or binding.key
        rows.append(f"| `{key}` | {binding.description or binding.action} |")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__(id="help")
        self._listed_bindings = bindings

    def compose(self) -> ComposeResult:
        text = (
            INTRO
            + "## Keys\n\n"
            + bindings_markdown(self._listed_bindings)
            + "\n\n## Command palette\n\n`ctrl+p` lists every action above plus the ones without a key: "
            "create 1,000 or 10,000 secrets, retire the previous KEK, hang the plugin, set a latency, "
            "restart one apiserver, clock speed, restore the plugin.\n\n"
            "## Panels\n\nOn a terminal of 150x40 or more all panels show at once; smaller terminals "
            "show them as tabs (click a tab or use the number keys 1-7).\n"
        )
        with VerticalScroll():
            yield Markdown(text)
