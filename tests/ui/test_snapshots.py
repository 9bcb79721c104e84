"""SVG snapshots of the dashboard at 80x24 (tabs) and 200x60 (grid), on the deterministic fake.

Regenerate with `pytest tests/ui/test_snapshots.py --snapshot-update` on Python 3.11 only, and
look at the report before committing new baselines.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Markdown

from sandbox.ui.widgets.top_bar import TopBar
from tests.ui.conftest import wait_for
from tests.ui.snapshot_apps.dashboard_app import make_app


async def two_secrets_written(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(lambda: app.model.backend_state == "running" and bool(app.model.catalogue))  # type: ignore[attr-defined]
    await pilot.press("c", "c")
    table = app.query_one("#object-table", DataTable)
    await wait_for(lambda: table.row_count == 2 and app.model.selected_report is not None)  # type: ignore[attr-defined]
    await wait_for(lambda: bool(app.model.health_results) and bool(app.model.plugin_states))  # type: ignore[attr-defined]
    detail = app.query_one("#scenario-detail", Markdown)
    await wait_for(lambda: "snapshot demo" in detail.source)
    await app.workers.wait_for_complete()
    bar = app.query_one(TopBar)
    await wait_for(lambda: "created 1 secret" in str(getattr(bar, "_last_text", "")))
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


async def envelope_tab(pilot: Pilot[Any]) -> None:
    await two_secrets_written(pilot)
    await pilot.press("3")
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


def test_grid_at_200x60(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(200, 60), run_before=two_secrets_written)


def test_tabs_at_80x24_scenarios(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=two_secrets_written)


def test_tabs_at_80x24_envelope(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=envelope_tab)
