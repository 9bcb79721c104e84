"""Pilot tests on the real simulator with the real plugin process: the full teaching flow.

These drive the app as a learner would (keys, the scenario browser) and check what the panels
show against what the backend and the plugin really did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable

import pytest
from textual.widgets import DataTable, OptionList

from sandbox.backends.base import BackendOptions
from sandbox.core import events as ev
from sandbox.ui.app import SandboxApp
from sandbox.ui.model import WriteKey
from sandbox.ui.widgets.plugin_calls import PluginCallsPanel
from sandbox.ui.widgets.scenario_browser import ScenarioBrowser
from tests.ui.conftest import app_state, catalogue_listed, wait_for

pytestmark = pytest.mark.slow


async def highlight_scenario(app: SandboxApp, name: str) -> None:
    """Highlights scenario `name` in the browser, once the browser lists the catalogue.

    The catalogue reaches the model before the list is filled (a redraw later); a highlight set
    on the still-empty list is lost and `s` then starts the first scenario.
    """
    await catalogue_listed(app)
    names = [s.name for s in app.model.catalogue]
    app.query_one("#scenario-list", OptionList).highlighted = names.index(name)
    browser = app.query_one(ScenarioBrowser)
    await wait_for(lambda: browser.selected_name == name)


async def settles(read: Callable[[], object], quiet: float, timeout: float) -> None:
    """Waits until `read()` has not changed for `quiet` seconds; fails if that never happens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, since = read(), loop.time()
    while loop.time() - since < quiet:
        if loop.time() > deadline:
            raise AssertionError(f"still changing after {timeout} s (last value {last!r})")
        await asyncio.sleep(0.05)
        if (value := read()) != last:
            last, since = value, loop.time()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_a_full_scenario_run_shows_key_ids_calls_and_health() -> None:
    app = SandboxApp("sim", clock_speed=0.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.session.running and bool(app.model.catalogue), timeout=30)
        await highlight_scenario(app, "key-rotation")
        await pilot.press("s")
        await wait_for(
            lambda: app.model.running_scenario == "key-rotation" and app.session.running, timeout=30
        )
        await wait_for(lambda: not app.scenario_busy, timeout=30)
        await pilot.press("a")
        await wait_for(lambda: app.model.scenario.done is not None, timeout=120)
        # Call events come through the plugin's event stream, which may trail the runner's own.
        await wait_for(lambda: app.model.method_totals()["Encrypt"] >= 6, timeout=15)
        await pilot.pause(0.5)  # room for a wrong seventh Encrypt to show up before counting

        progress = app.model.scenario
        assert progress.done, progress.failures
        assert len(progress.finished_steps) == 5 and all(progress.finished_steps.values())
        # Two apiservers each make one seed at start, one after the rotation and one after the
        # final restart: six Encrypts. The restart empties the DEK caches, so reads Decrypt.
        totals = app.model.method_totals()
        assert totals["Encrypt"] == 6, totals
        assert totals["Status"] >= 6 and totals["Decrypt"] >= 1
        counts = str(app.query_one(PluginCallsPanel).query_one("#call-counts").render())
        assert "Encrypt 6" in counts
        # Every secret was migrated: the object list shows the plugin's current key_id for all.
        await wait_for(lambda: app.query_one("#object-table", DataTable).row_count == 6)
        state = await app.session.control(0).get_state()
        key_ids = {app.model.objects[k].key_id for k in app.model.objects}
        assert key_ids == {state.current_key_id}
        assert app.model.current_key_id() == state.current_key_id
        assert app.model.stale_count() == 0
        assert all(change.ok for change in app.model.health_checks.values())
        await wait_for(lambda: "/healthz/kms-providers" in app.model.health_results)
        assert app.model.health_results["/healthz/kms-providers"][0] == 200


async def test_free_play_rotation_marks_old_objects_stale_and_migration_fixes_them() -> None:
    app = SandboxApp("sim", clock_speed=0.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.session.running and bool(app.model.write_keys), timeout=30)
        first_key = app.model.current_key_id()
        await pilot.press("c", "c", "c")
        await wait_for(lambda: len(app.model.objects) == 3)
        await pilot.press("r")
        await wait_for(lambda: 0 in app.model.plugin_states and len(app.model.plugin_states[0].keys) == 2)
        await pilot.press("j")  # one minute later the probe has seen the new key_id
        await wait_for(lambda: app.model.current_key_id() not in ("", first_key), timeout=15)
        await wait_for(lambda: app.model.stale_count() == 3)
        await pilot.press("m")
        await wait_for(lambda: app.model.stale_count() == 0, timeout=15)
        assert {o.key_id for o in app.model.objects.values()} == {app.model.current_key_id()}


async def test_an_outage_shows_in_the_keyring_and_a_failed_write_is_not_a_crash() -> None:
    app = SandboxApp("sim", clock_speed=0.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.session.running and 0 in app.model.plugin_states, timeout=30)
        await pilot.press("o")
        await wait_for(lambda: app.model.plugin_states[0].outage == "unavailable", timeout=15)
        await pilot.press("J")  # ten minutes: the write key expires, probes fail
        # The jump must be over before the write: its outcome would replace the write's in the top bar.
        await wait_for(lambda: app.model.activity == "clock +600s", timeout=30)
        await wait_for(lambda: any(not p.ok for p in app.model.probes), timeout=15)
        await wait_for(lambda: any(not c.ok for c in app.model.health_checks.values()), timeout=15)
        await pilot.press("c")
        await wait_for(lambda: "failure" in app.model.activity or "0/1" in app.model.activity, timeout=15)
        assert app.is_running
        await pilot.press("o")
        await wait_for(lambda: app.model.plugin_states[0].outage == "none", timeout=15)


async def test_no_plugin_process_survives_quitting_the_app() -> None:
    app = SandboxApp("sim", clock_speed=0.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.session.running and 0 in app.model.plugin_states, timeout=30)
        pid = app.model.plugin_states[0].pid
        assert pid and process_alive(pid)
        # The UI's own health fetches must not feed on the cached probes they cause: with the
        # clock paused the count settles (a feedback loop would keep it climbing).
        await settles(lambda: app.model.cached_probes, quiet=1.0, timeout=20)
        await pilot.press("q")
    # backend.stop() ran inside the app's shutdown; give the kernel a moment to reap the child.
    await wait_for(lambda: not process_alive(pid), timeout=10)


async def test_restarting_one_apiserver_of_three_from_the_palette_leaves_the_others_alone() -> None:
    app = SandboxApp("sim", BackendOptions(apiservers=3), clock_speed=0.0)
    async with app.run_test(size=(200, 60)) as pilot:
        sources = {f"apiserver-{i}" for i in range(3)}
        await wait_for(
            lambda: app.session.running and {key[0] for key in app.model.write_keys} == sources, timeout=30
        )
        # One seed per apiserver; the call events trail the write-key events (plugin stream).
        await wait_for(lambda: app.model.method_totals()["Encrypt"] == 3, timeout=20)
        await pilot.press("c", "c")
        await wait_for(lambda: len(app.model.objects) == 2)
        backend = app.session.backend
        assert backend is not None and backend.apiserver_count == 3
        keys_before = {key[0]: dataclass_copy(w) for key, w in app.model.write_keys.items()}
        encrypts_before = app.model.method_totals()["Encrypt"]
        events_before = len(backend.events.history())

        await pilot.press("ctrl+p")
        await pilot.press(*"restart apiserver-1")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(lambda: app.model.activity == "restarted apiserver-1", timeout=20)
        await wait_for(lambda: "apiserver-1" in {key[0] for key in app.model.write_keys}, timeout=20)
        await wait_for(lambda: app.model.method_totals()["Encrypt"] > encrypts_before, timeout=20)
        await pilot.pause(0.5)  # room for a wrong extra Encrypt to show up before counting

        since = backend.events.history()[events_before:]
        lifecycle = [e for e in since if isinstance(e, ev.ApiserverLifecycle)]
        assert lifecycle and {e.source for e in lifecycle} == {"apiserver-1"}
        rotated = [e for e in since if isinstance(e, ev.WriteStateRotated)]
        assert [e.source for e in rotated] == ["apiserver-1"]  # one new seed, for the restarted one
        assert app.model.method_totals()["Encrypt"] == encrypts_before + 1
        after = {key[0]: w for key, w in app.model.write_keys.items()}
        for untouched in ("apiserver-0", "apiserver-2"):
            assert after[untouched] == keys_before[untouched]
        assert after["apiserver-1"].expires_at >= keys_before["apiserver-1"].expires_at
        # The others kept serving: reads through apiserver-2 still decrypt.
        assert (await backend.get("secrets", "default", "play-00000", apiserver=2)).ok


def dataclass_copy(key: WriteKey) -> WriteKey:
    return dataclasses.replace(key)


async def test_a_scenario_run_in_the_ui_passes_as_it_does_in_kms_sandbox_run() -> None:
    # ha-rotation checks "the latest Status probe by apiserver 0": a health fetch by the UI in
    # the middle of a step would add a cached probe there. The UI holds its fetches while a
    # step runs, so the lesson passes here exactly as on the command line.
    app = SandboxApp("sim", clock_speed=1.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(lambda: app.session.running and bool(app.model.catalogue), timeout=30)
        await highlight_scenario(app, "ha-rotation")
        await pilot.press("s")
        await wait_for(
            lambda: app.model.running_scenario == "ha-rotation" and not app.scenario_busy,
            timeout=60,
            explain=lambda: app_state(app),
        )
        await pilot.press("a")  # run all stops at a failed step, so wait for the run, not the finish
        await wait_for(lambda: not app.scenario_busy, timeout=120)
        await wait_for(
            lambda: app.model.scenario.done is not None or not all(app.model.scenario.finished_steps.values())
        )
        progress = app.model.scenario
        failed = [f"{e.description}: observed {e.observed}" for e in progress.expectations if not e.ok]
        assert progress.done and not failed, failed
        assert all(progress.finished_steps.values())
