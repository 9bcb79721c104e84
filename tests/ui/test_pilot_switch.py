"""Pilot tests of what a backend swap (starting a scenario) and the process log do to the screen.

A scenario start stops the free-play backend and starts a fresh one: afterwards every panel must
describe the new backend only (its state, its calls, its probes), whatever was in flight.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import DataTable, OptionList, TabbedContent

from sandbox.backends.base import Backend, BackendOptions
from sandbox.core import events as ev
from sandbox.core.events import EventBus
from sandbox.scenarios.model import load_scenario
from sandbox.ui.app import SandboxApp
from sandbox.ui.messages import EventsFlushed
from sandbox.ui.widgets.log_panel import LogPanel
from sandbox.ui.widgets.plugin_calls import PluginCallsPanel
from sandbox.ui.widgets.status_panel import StatusPanel
from sandbox.ui.widgets.top_bar import TopBar
from tests.ui.conftest import app_state, catalogue_listed, fake_backend_of, wait_for
from tests.ui.fake_backend import FROZEN_NOW, FakeBackend, fake_control_factory
from tests.ui.snapshot_apps.dashboard_app import DEMO, fixed_catalogue


def numbered_factory() -> tuple[list[FakeBackend], object]:
    """A factory whose n-th backend reports key_id kek-000n, so rows tell backends apart."""
    built: list[FakeBackend] = []

    def factory(name: str, options: BackendOptions, events: EventBus) -> Backend:
        backend = FakeBackend(options, events)
        backend.key_id = f"kek-{len(built) + 1:04d}"
        built.append(backend)
        return backend

    return built, factory


def app_with_catalogue(factory: object, clock_speed: float = 0.0) -> SandboxApp:
    app = SandboxApp("fake", factory=factory, control_factory=fake_control_factory, clock_speed=clock_speed)  # type: ignore[arg-type]
    app.scenarios.catalogue = fixed_catalogue  # type: ignore[method-assign]
    return app


def rows(app: SandboxApp, table_id: str) -> list[list[object]]:
    table = app.query_one(table_id, DataTable)
    return [table.get_row_at(i) for i in range(table.row_count)]


def shown(panel: LogPanel) -> bool:
    return bool(panel.display)


def rendered(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


async def test_starting_a_scenario_shows_only_the_new_backend_everywhere() -> None:
    built, factory = numbered_factory()
    app = app_with_catalogue(factory)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.session.running)
        await catalogue_listed(app)
        await pilot.press("c", "j")  # a secret and a probe on the first backend
        await wait_for(lambda: len(rows(app, "#call-table")) >= 2 and len(app.model.objects) == 1)
        await pilot.press("s")
        await wait_for(lambda: len(built) == 2 and app.model.running_scenario == "snapshot-demo")
        await wait_for(lambda: app.model.backend_state == "running" and not app.scenario_busy)
        # The fake's start publishes two calls and one probe; wait until they are drawn.
        await wait_for(lambda: len(rows(app, "#call-table")) == 2 and len(rows(app, "#probe-table")) == 1)

        # 1. The state label follows the swap: stopping, starting, then running again.
        assert " running" in str(app.query_one(TopBar)._last_text)
        assert "fake running" in rendered(app.query_one(StatusPanel).query_one("#status-summary"))
        # 2. Rows, counts and sparkline describe the new backend only.
        call_rows = rows(app, "#call-table")
        assert {row[4] for row in call_rows} == {"kek-0002"}
        assert len(call_rows) == app.model.call_total == sum(app.model.call_counts.values()) == 2
        counts = rendered(app.query_one(PluginCallsPanel).query_one("#call-counts"))
        assert counts == "plugin: Encrypt 1  Status 1"
        assert sum(app.model.spark_series()) <= 2
        assert {row[4] for row in rows(app, "#probe-table")} == {"kek-0002"}
        assert rows(app, "#object-table") == []
        # 3. The probe count in the summary is the number of rows in the probe table.
        summary = rendered(app.query_one(StatusPanel).query_one("#status-summary"))
        match = re.search(r"(\d+) Status probes? below", summary)
        assert match is not None, summary
        assert int(match.group(1)) == len(rows(app, "#probe-table")) == app.model.probe_total == 1
        assert built[0].stopped and not built[1].stopped


async def test_a_batch_flushed_from_the_old_backend_is_dropped_after_the_swap() -> None:
    built, factory = numbered_factory()
    app = app_with_catalogue(factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.session.running)
        await catalogue_listed(app)
        old_generation = app.pump.generation
        await pilot.press("s")
        await wait_for(lambda: len(built) == 2 and app.model.call_total == 2)
        stale = ev.PluginCall(time=0.0, source="plugin", method="Decrypt", key_id="kek-0001")
        app.post_message(EventsFlushed((stale,), old_generation))
        # Messages are handled in order: once this current batch is in, the stale one was seen.
        marker = ev.LogLine(time=0.0, source="test", text="after the stale batch")
        app.post_message(EventsFlushed((marker,), app.pump.generation))
        await wait_for(lambda: len(app.model.process_log.entries) == 1)
        assert app.model.call_total == 2
        assert "kek-0001" not in {row[4] for row in rows(app, "#call-table")}


async def test_process_log_lines_show_coalesced_in_the_logs_tab(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        bus = fake_backend_of(fake_app).events
        for _ in range(50):
            bus.publish(
                ev.LogLine(time=0.0, source="plugin-0", level="warning", text="dial: connection refused")
            )
        for waited in (5.0, 10.0):
            bus.publish(ev.WaitProgress(time=waited, source="clock", waited=waited, total=20.0))
        await pilot.press("8")
        await wait_for(lambda: pilot.app.query_one(TabbedContent).active == "tab-logs")
        lines = pilot.app.query_one("#log-lines")
        await wait_for(lambda: "×50" in rendered(lines))
        text = rendered(lines).splitlines()
        assert len(text) == 2, text
        assert "plugin-0: dial: connection refused  ×50" in text[0]
        assert "10/20 s" in text[1]


async def test_L_shows_and_hides_the_log_panel_on_a_large_terminal(fake_app: SandboxApp) -> None:
    async with fake_app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: fake_app.session.running)
        panel = pilot.app.query_one(LogPanel)
        assert not shown(panel)
        await pilot.press("L")
        await wait_for(lambda: shown(panel) and panel.region.height > 5)
        fake_backend_of(fake_app).events.publish(ev.LogLine(time=0.0, source="etcd", text="ready"))
        await wait_for(lambda: "etcd: ready" in rendered(panel.query_one("#log-lines")))
        await pilot.resize_terminal(80, 24)  # the tabs layout has a Logs tab whatever L said
        await wait_for(lambda: bool(pilot.app.query(TabbedContent)))
        await pilot.resize_terminal(200, 60)
        await wait_for(lambda: not pilot.app.query(TabbedContent) and bool(pilot.app.query(LogPanel)))
        assert shown(pilot.app.query_one(LogPanel))  # still shown after recomposing
        await pilot.press("L")
        await wait_for(lambda: not shown(pilot.app.query_one(LogPanel)))


async def test_long_scenario_titles_stay_on_one_line_with_an_ellipsis(
    fake_app: SandboxApp, tmp_path: Path
) -> None:
    demo = DEMO.read_text(encoding="utf-8")
    catalogue = []
    for name, title in (
        ("long", "Key rotation with three apiservers and a lagging KMS replica"),
        ("next", "Next lesson"),
    ):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            demo.replace("name: snapshot-demo", f"name: {name}").replace(
                "title: Rotate the KEK (snapshot demo)", f"title: {title}"
            ),
            encoding="utf-8",
        )
        catalogue.append(load_scenario(path))
    fake_app.scenarios.catalogue = lambda: catalogue  # type: ignore[method-assign]
    async with fake_app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(fake_app.model.catalogue) == 2)
        options = pilot.app.query_one("#scenario-list", OptionList)
        await pilot.resize_terminal(40, 24)
        await wait_for(lambda: options.size.width < 40 and options.option_count == 2)
        await wait_for(lambda: options.render_line(0).text.rstrip().endswith("…"))
        first, second = (options.render_line(y).text for y in (0, 1))
        assert first.strip().startswith("Key rotation")
        assert second.strip() == "Next lesson"


async def test_the_free_play_clock_keeps_running_after_a_swap() -> None:
    built, factory = numbered_factory()
    app = app_with_catalogue(factory, clock_speed=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.session.running)
        await catalogue_listed(app)
        await wait_for(lambda: built[0].now() > FROZEN_NOW)  # the UI clock advances the fake
        await pilot.press("s")
        await wait_for(
            lambda: len(built) == 2 and app.model.backend_state == "running" and not app.scenario_busy
        )
        await wait_for(lambda: built[1].now() >= FROZEN_NOW + 2, explain=lambda: app_state(app))
