"""The main screen: every panel, as tabs on a small terminal and as a grid on a large one.

Switching layouts recomposes the screen; panels redraw complete from the view model on mount,
so nothing is lost when the terminal is resized across the breakpoint.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from sandbox.ui.model import DashboardModel
from sandbox.ui.widgets.envelope_panel import EnvelopePanel
from sandbox.ui.widgets.health_panel import HealthPanel
from sandbox.ui.widgets.keyring_panel import KeyringPanel
from sandbox.ui.widgets.log_panel import LogPanel
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
    ("Logs", LogPanel),
)
COLUMNS: tuple[tuple[str, tuple[type[Panel], ...]], ...] = (
    # Scenarios over the narrative (and the logs, when shown) on the left, the envelope down
    # the middle, calls, status, keyring and health on the right.
    ("left", (ScenarioBrowser, NarrativePanel, LogPanel)),
    ("middle", (EnvelopePanel,)),
    ("right", (PluginCallsPanel, StatusPanel, KeyringPanel, HealthPanel)),
)


def is_wide(width: int, height: int) -> bool:
    return width >= WIDE_MIN_WIDTH and height >= WIDE_MIN_HEIGHT


class DashboardScreen(Screen[None]):
    DEFAULT_CSS = """
    DashboardScreen #dashboard-grid { height: 1fr; }
    /* At 200 columns: 50 | 78 | 72. The hex view needs 78 for 16 bytes a row, the calls
       table 72 for all its columns; the narrative wraps happily in 50. */
    DashboardScreen #column-left { width: 1fr; }
    DashboardScreen #column-middle { width: 1.56fr; }
    DashboardScreen #column-right { width: 1.44fr; }
    DashboardScreen #column-right DataTable { scrollbar-size-vertical: 1; }
    DashboardScreen #column-right > PluginCallsPanel { height: 2fr; }
    DashboardScreen #column-right > StatusPanel { height: 2fr; }
    DashboardScreen #column-left > LogPanel { display: none; }
    DashboardScreen.-logs #column-left > LogPanel { display: block; }
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
            with Horizontal(id="dashboard-grid"):
                for name, panels in COLUMNS:
                    with Vertical(id=f"column-{name}"):
                        for panel_class in panels:
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

    def toggle_logs(self) -> None:
        """The log view: its tab on a small terminal, shown or hidden under the narrative on a large one."""
        if not self.wide:
            self.show_panel("logs")
            return
        self.toggle_class("-logs")
        if self.has_class("-logs"):
            self.show_panel("logs")

    def show_panel(self, name: str) -> None:
        """Brings a panel into view: the tab on a small terminal (the grid shows them all)."""
        if not self.wide:
            self.query_one(TabbedContent).active = f"tab-{name}"
        for panel in self.query(Panel):
            if name == panel.PANEL:
                panel.focus_main()
