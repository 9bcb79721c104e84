"""App-wide messages: how events and backend outcomes reach the widgets.

Widget-specific messages are nested on the widget that posts them (house style 5.3); these are
the ones the app and the dashboard screen exchange.
"""

from __future__ import annotations

from textual.message import Message

from sandbox.core.events import Event


class EventsFlushed(Message):
    """A coalesced batch of events, posted at most ten times a second by the EventPump."""

    def __init__(self, events: tuple[Event, ...], generation: int = 0) -> None:
        super().__init__()
        self.events = events
        self.generation = generation
        """The EventPump attach these came from: a batch of a replaced backend is dropped."""


class BackendChanged(Message):
    """The backend is starting, started ("running"), stopped or failed to start ("failed").

    Posted for the first backend and for every backend a scenario start swaps in.
    """

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__()
        self.state = state
        self.detail = detail


class ActionFailed(Message):
    """A free-play action or a panel refresh raised; shown as a notification and in `panel`."""

    def __init__(self, action: str, error: str, panel: str = "") -> None:
        super().__init__()
        self.action = action
        self.error = error
        self.panel = panel


class PanelDataReady(Message):
    """A worker fetched data for a panel (object reports, health, keyring); redraw `panels`."""

    def __init__(self, panels: frozenset[str]) -> None:
        super().__init__()
        self.panels = panels
