"""The frame every dashboard panel shares: a titled border, a redraw hook and an error line.

Panels draw only from the `DashboardModel`; `refresh_view` is called on mount and whenever the
events of a flush touched the panel, so a panel recomposed into another layout redraws itself
complete from the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from sandbox.ui.model import DashboardModel


class Panel(Vertical):
    """Base of the dashboard panels; subclasses compose their body and implement `refresh_view`."""

    DEFAULT_CSS = """
    Panel {
        border: round $primary 60%;
        border-title-color: $text-primary;
        border-title-style: bold;
        height: 1fr;
        padding: 0 1;
    }
    Panel:focus-within { border: round $accent; }
    Panel > .panel-error {
        display: none;
        color: $text-error;
        height: auto;
    }
    Panel.-error > .panel-error { display: block; }
    """

    PANEL: ClassVar[str] = ""
    """The model's name for this panel (see sandbox.ui.model.PANELS)."""
    TITLE: ClassVar[str] = ""

    def __init__(self, model: DashboardModel, *, id: str | None = None) -> None:
        super().__init__(id=id or f"panel-{self.PANEL}")
        self.model = model
        self.border_title = self.TITLE

    def compose(self) -> ComposeResult:
        yield from self.compose_body()
        yield Static("", classes="panel-error")

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._children_ready = True
        self.redraw()

    def redraw(self) -> None:
        """Redraws from the model, then shows or hides the panel's last error."""
        if not getattr(self, "_children_ready", False):
            return  # on_mount draws it complete once its children exist
        self.refresh_view()
        error = self.model.panel_errors.get(self.PANEL, "")
        self.set_class(bool(error), "-error")
        self.set_static(".panel-error", f"⚠ {error}" if error else "")

    def set_static(self, selector: str, content: RenderableType) -> None:
        """Updates a Static only when its content changed: each update costs a layout pass."""
        widget = self.query_one(selector, Static)
        if getattr(widget, "_last_content", None) == content:
            return
        widget._last_content = content  # type: ignore[attr-defined]
        widget.update(content)

    def focus_main(self) -> None:
        """Focuses the panel's first focusable widget (its list or table), so arrow keys work."""
        for widget in self.query("*"):
            if widget.focusable:
                widget.focus()
                return

    def refresh_view(self) -> None:
        """Subclasses draw the model's state for this panel."""


def fixed_table(table_id: str, columns: Sequence[tuple[str, int]]) -> DataTable[str | Text]:
    """A row-cursor table with fixed column widths and one blank cell between columns.

    Fixed widths because auto-sized columns jump as rows arrive (and make screenshots racy).
    The gap is part of each width with no cell padding, so a column costs one cell of spacing
    instead of the default two: at 200 columns the calls table fits its panel whole.
    """
    table: DataTable[str | Text] = DataTable(
        id=table_id, cursor_type="row", zebra_stripes=True, cell_padding=0
    )
    for i, (label, width) in enumerate(columns):
        table.add_column(label, key=label, width=width if i == len(columns) - 1 else width + 1)
    return table
