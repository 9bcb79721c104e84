"""The main screen: every panel, as tabs on a small terminal and as a grid on a large one.

Switching layouts recomposes the screen; panels redraw complete from the view model on mount,
so nothing is lost when the terminal is resized across the breakpoint.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from sandbox.ui.model import DashboardModel
from sandbox.ui.widgets.envelope_panel import EnvelopePanel
from sandbox.ui.widgets.health_panel import HealthPanel
from sandbox.ui.widgets.keyring_panel import KeyringPanel
from sandbox.ui.widgets.narrative import NarrativePanel
from sandbox.ui.widgets.panel import Panel
from sandbox.ui.widgets.plugin_calls import PluginCallsPanel
from sandbox.ui.widgets.scenario_browser import ScenarioBrowser
from sandbox.ui.widgets.status_panel import StatusPanel
from sandbox.ui.widgets.top_bar import TopBar

WIDE_MIN_WIDTH = 150
WIDE_MIN_HEIGHT = 40

TABS: tuple[tuple[str, type[Panel]], ...] = (
    ("Scenarios", ScenarioBrowser),
    ("Story", NarrativePanel),
    ("Envelope", EnvelopePanel),
    ("Calls", PluginCallsPanel),
    ("Status", StatusPanel),
    ("Keyring", KeyringPanel),
    ("Health", HealthPanel),
)
GRID_ORDER: tuple[type[Panel], ...] = (
    # Row-major auto-placement with the row spans in DEFAULT_CSS gives: scenarios over narrative
    # on the left, the envelope down the middle, calls, status, keyring and health on the right.
    ScenarioBrowser,
    EnvelopePanel,
    PluginCallsPanel,
    StatusPanel,
    NarrativePanel,
    KeyringPanel,
    HealthPanel,
)


def is_wide(width: int, height: int) -> bool:
    return width >= WIDE_MIN_WIDTH and height >= WIDE_MIN_HEIGHT


class DashboardScreen(Screen[None]):
    DEFAULT_CSS = """
    DashboardScreen #dashboard-grid {
        grid-size: 3 6;
        grid-columns: 1fr 1.3fr 1fr;
        grid-gutter: 0;
    }
    DashboardScreen #dashboard-grid > ScenarioBrowser { row-span: 3; }
    DashboardScreen #dashboard-grid > NarrativePanel { row-span: 3; }
    DashboardScreen #dashboard-grid > EnvelopePanel { row-span: 6; }
    DashboardScreen #dashboard-grid > PluginCallsPanel { row-span: 2; }
    DashboardScreen #dashboard-grid > StatusPanel { row-span: 2; }
    DashboardScreen TabbedContent { height: 1fr; }
    DashboardScreen TabPane { padding: 0; }
    """

    AUTO_FOCUS = "#scenario-list"
    wide: reactive[bool] = reactive(False, recompose=True)

    def __init__(self, model: DashboardModel) -> None:
        super().__init__(id="dashboard")
        self.model = model

    def compose(self) -> ComposeResult:
        self.set_reactive(DashboardScreen.wide, is_wide(self.app.size.width, self.app.size.height))
        yield TopBar(self.model)
        if self.wide:
            with Grid(id="dashboard-grid"):
                for panel_class in GRID_ORDER:
                    yield panel_class(self.model)
        else:
            with TabbedContent(id="dashboard-tabs"):
                for title, panel_class in TABS:
                    with TabPane(title, id=f"tab-{panel_class.PANEL}"):
                        yield panel_class(self.model)
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.wide = is_wide(event.size.width, event.size.height)

    def redraw(self, panels: set[str] | frozenset[str]) -> None:
        """Redraws the named panels (and the top bar, which summarises all of them)."""
        for panel in self.query(Panel):
            if panel.PANEL in panels:
                panel.redraw()
        for bar in self.query(TopBar):  # absent for a moment while the layout recomposes
            bar.redraw()

    def show_panel(self, name: str) -> None:
        """Brings a panel into view: the tab on a small terminal (the grid shows them all)."""
        if not self.wide:
            self.query_one(TabbedContent).active = f"tab-{name}"
        for panel in self.query(Panel):
            if name == panel.PANEL:
                panel.focus_main()
