"""Pilot tests of the layout and interactions on the deterministic fake backend.

Behaviour against the real simulator and plugin is in test_pilot_sim.py; these check that each
panel draws what the event stream says and that every interaction lands in the right place.
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable, TabbedContent

from sandbox.backends.base import BackendError, BackendOptions
from sandbox.core.events import EventBus
from sandbox.ui.app import SandboxApp
from sandbox.ui.messages import EventsFlushed
from sandbox.ui.screens.help import HelpScreen
from sandbox.ui.widgets.keyring_panel import KeyringPanel
from sandbox.ui.widgets.status_panel import StatusPanel
from tests.ui.conftest import fake_backend_of, run_from_palette, wait_for
from tests.ui.fake_backend import FakeBackend, fake_control_factory


async def test_backend_starts_after_the_first_frame_and_panels_show_its_events(fake_app: SandboxApp) -> None:
    messages: list[Message] = []
    async with fake_app.run_test(size=(200, 60), message_hook=messages.append) as pilot:
        await wait_for(lambda: fake_app.model.backend_state == "running")
        calls = pilot.app.query_one("#call-table", DataTable)
        await wait_for(lambda: calls.row_count == 2)  # drawn at the next flush after the start
        assert [calls.get_row_at(i)[2] for i in range(calls.row_count)] == ["Status", "Encrypt"]
        probes = pilot.app.query_one("#probe-table", DataTable)
        await wait_for(lambda: probes.row_count == 1)
        assert probes.get_row_at(0)[4] == "kek-0001"
        summary = pilot.app.query_one(StatusPanel).query_one("#status-summary")
        await wait_for(lambda: "expires in 3:00" in str(summary.render()))
        assert "key_id kek-0001" in str(summary.render())
        keyring = pilot.app.query_one(KeyringPanel).query_one("#keyring-body")
        await wait_for(lambda: "current" in str(keyring.render()))  # the keyring fetch ran
        assert "kek-0001" in str(keyring.render())
    flushed = [m for m in messages if isinstance(m, EventsFlushed)]
    # The five start-up events arrive coalesced, not one message each.
    assert sum(len(m.events) for m in flushed) >= 5
    assert len(flushed) < sum(len(m.events) for m in flushed)


async def test_creating_secrets_fills_the_object_list_with_their_key_ids(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        await pilot.press("C")
        table = pilot.app.query_one("#object-table", DataTable)
        await wait_for(lambda: table.row_count == 100)
        assert table.get_row_at(0)[:2] == ["secrets/default/play-00000", "kek-0001"]
        assert len(fake_backend_of(fake_app).store) == 100


async def test_small_terminals_get_tabs_and_large_ones_a_grid_without_losing_state(
    fake_app: SandboxApp,
) -> None:
    async with fake_app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        assert pilot.app.query(TabbedContent)
        await pilot.press("4")
        assert pilot.app.query_one(TabbedContent).active == "tab-calls"
        await pilot.press("c")
        await wait_for(lambda: len(fake_app.model.objects) == 1)
        await pilot.resize_terminal(200, 60)
        await wait_for(
            lambda: not pilot.app.query(TabbedContent) and bool(pilot.app.query("#dashboard-grid"))
        )
        await wait_for(lambda: pilot.app.query_one("#object-table", DataTable).row_count == 1)
        await wait_for(lambda: pilot.app.query_one("#call-table", DataTable).row_count == 2)


async def test_a_backend_that_fails_to_start_is_a_notification_and_a_panel_error() -> None:
    class BrokenBackend(FakeBackend):
        async def start(self) -> None:
            raise BackendError("etcd binary not found: run `kms-sandbox setup local`")

    def factory(name: str, options: BackendOptions, events: EventBus) -> BrokenBackend:
        return BrokenBackend(options, events)

    app = SandboxApp("local", factory=factory, control_factory=fake_control_factory, clock_speed=0.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.model.backend_state == "failed")
        await wait_for(lambda: any("etcd binary not found" in n.message for n in app._notifications))
        error = app.query_one(StatusPanel).query_one(".panel-error")
        await wait_for(lambda: "etcd binary not found" in str(error.render()))
        await pilot.press("c")  # actions on a dead backend warn instead of crashing
        await wait_for(lambda: any("not running" in n.message for n in app._notifications))


async def test_a_failing_control_call_is_reported_not_raised() -> None:
    # The real control client against a socket that does not exist: rotate must fail cleanly.
    app = SandboxApp("fake", factory=lambda n, o, e: FakeBackend(o, e), clock_speed=0.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.session.running)
        await pilot.press("r")
        await wait_for(lambda: any("rotate failed" in (n.title or "") for n in app._notifications))
        assert "rotate" in app.model.panel_errors.get("keyring", "")
        assert app.is_running


async def test_help_lists_every_binding_and_closes_with_escape(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(pilot.app.screen, HelpScreen))
        text = pilot.app.screen.query_one("Markdown").source  # type: ignore[attr-defined]
        for key in ("`r`", "`o`", "`j`", "`m`", "`q`"):
            assert key in text
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(pilot.app.screen, HelpScreen))


async def test_the_command_palette_runs_actions_without_keys(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        await run_from_palette(pilot, "create 1,000", "Create 1,000 secrets")
        await wait_for(lambda: len(fake_backend_of(fake_app).store) == 1000)
        await run_from_palette(pilot, "jump 10 minutes", "Clock: jump 10 minutes")
        await wait_for(lambda: fake_backend_of(fake_app).now() > 1_767_225_600.0 + 599)


async def test_selecting_an_object_shows_its_fields_and_bytes(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        await pilot.press("c", "c")
        table = pilot.app.query_one("#object-table", DataTable)
        await wait_for(lambda: table.row_count == 2)
        table.focus()
        await pilot.press("down")
        await wait_for(lambda: fake_app.model.selected_key.endswith("play-00001"))
        await wait_for(lambda: fake_app.model.selected_raw is not None or bool(fake_app.model.selected_error))
        assert fake_app.model.selected_raw == fake_backend_of(fake_app).store[fake_app.model.selected_key]


async def test_quit_stops_the_backend(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        backend = fake_backend_of(fake_app)
        await pilot.press("q")
        await pilot.pause(0.1)
    assert backend.stopped
    assert fake_app.return_value == 0
