"""The view model folds events into panel state; no Textual involved."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from sandbox.core import events as ev
from sandbox.ui.model import (
    DashboardModel,
    clock_text,
    envelope_metric_lines,
    shorten_hashes,
    tail_since,
)

T0 = 1_767_225_600.0


def written(key: str, key_id: str, t: float = T0) -> ev.StorageWritten:
    return ev.StorageWritten(time=t, source="apiserver-0", key=key, key_id=key_id, provider="p", size=100)


def test_plugin_calls_are_counted_per_plugin_and_method_and_bucketed_per_second() -> None:
    model = DashboardModel()
    calls = [
        ev.PluginCall(time=T0, source="plugin", method="Status"),
        ev.PluginCall(time=T0 + 0.5, source="plugin", method="Decrypt"),
        ev.PluginCall(time=T0 + 2, source="plugin-1", method="Decrypt"),
    ]
    assert model.apply(calls) == {"calls"}
    assert model.call_counts[("plugin", "Decrypt")] == 1
    assert model.method_totals()["Decrypt"] == 2
    series = model.spark_series(buckets=3)
    assert series == [2.0, 0.0, 1.0]


def test_objects_under_an_old_key_id_are_stale_after_rotation() -> None:
    model = DashboardModel()
    rotated = ev.WriteStateRotated(
        time=T0, source="apiserver-0", provider="p", ok=True, key_id="k1", expires_at=T0 + 180
    )
    model.apply([rotated, written("/registry/secrets/default/a", "k1")])
    assert model.current_key_id() == "k1"
    assert model.stale_count() == 0
    model.apply(
        [
            ev.WriteStateRotated(
                time=T0 + 60, source="apiserver-0", provider="p", ok=True, key_id="k2", expires_at=T0 + 240
            )
        ]
    )
    assert model.current_key_id() == "k2"
    assert model.stale_count() == 1
    model.apply([written("/registry/secrets/default/a", "k2", T0 + 61)])
    assert model.stale_count() == 0
    assert model.written_keys == {"/registry/secrets/default/a"}


def test_a_failed_rotation_keeps_the_old_write_key_and_records_the_error() -> None:
    model = DashboardModel()
    model.apply(
        [ev.WriteStateRotated(time=T0, source="a", provider="p", ok=True, key_id="k1", expires_at=T0 + 180)]
    )
    model.apply(
        [
            ev.WriteStateRotated(
                time=T0 + 10, source="a", provider="p", ok=False, error="rpc error: Unavailable"
            )
        ]
    )
    key = model.write_keys[("a", "p")]
    assert (key.key_id, key.error) == ("k1", "rpc error: Unavailable")
    model.apply(
        [ev.WriteStateExtended(time=T0 + 20, source="a", provider="p", key_id="k1", expires_at=T0 + 200)]
    )
    assert (key.expires_at, key.error) == (T0 + 200, "")


def test_a_restart_drops_that_apiservers_write_state() -> None:
    model = DashboardModel()
    model.apply([ev.WriteStateRotated(time=T0, source="apiserver-0", provider="p", ok=True, key_id="k1")])
    model.apply([ev.ApiserverLifecycle(time=T0, source="apiserver-0", action="started")])
    assert model.write_keys != {}  # "started" comes after the first probe made the write key
    dirty = model.apply([ev.ApiserverLifecycle(time=T0 + 1, source="apiserver-0", action="restarting")])
    assert "status" in dirty
    assert model.write_keys == {}


def test_scenario_events_drive_the_narrative_progress() -> None:
    model = DashboardModel()
    model.apply(
        [
            ev.ScenarioStarted(time=T0, scenario="rot", title="Rotation", steps=2),
            ev.StepStarted(time=T0, scenario="rot", index=0, name="write", narrative="**Write** a secret"),
            ev.ExpectationChecked(
                time=T0, scenario="rot", step=0, description="key_id", ok=False, expected="k2", observed="k1"
            ),
            ev.StepFinished(time=T0, scenario="rot", index=0, name="write", ok=False),
        ]
    )
    progress = model.scenario
    assert (progress.title, progress.step_index, progress.narrative) == ("Rotation", 0, "**Write** a secret")
    assert progress.finished_steps == {0: False}
    assert [(e.expected, e.observed) for e in progress.expectations] == [("k2", "k1")]
    model.apply([ev.ScenarioFinished(time=T0, scenario="rot", ok=False, failures=("step 1: key_id",))])
    assert progress.done is False


def test_reset_keeps_the_catalogue_and_clock_speed_but_forgets_the_backend() -> None:
    model = DashboardModel()
    model.clock_speed = 10.0
    model.catalogue_error = "x"
    model.apply([written("/registry/secrets/default/a", "k1"), ev.PluginCall(time=T0, method="Status")])
    model.reset_backend_view()
    assert (model.objects, len(model.calls), model.clock_speed, model.catalogue_error) == ({}, 0, 10.0, "x")


def test_metric_lines_keep_envelope_samples_and_shorten_hashes() -> None:
    digest = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
    text = (
        "# HELP apiserver_envelope_encryption_key_id_hash_total x\n"
        f'apiserver_envelope_encryption_key_id_hash_total{{key_id_hash="sha256:{digest}"}} 3\n'
        'apiserver_envelope_encryption_kms_operations_latency_seconds_bucket{le="0.1"} 1\n'
        "apiserver_storage_transformation_operations_total 9\n"
    )
    assert envelope_metric_lines(text) == [
        'apiserver_envelope_encryption_key_id_hash_total{key_id_hash="sha256:6b86b273ff…"} 3'
    ]


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_clock_text_is_always_a_valid_time_of_day(timestamp: float) -> None:
    hours, minutes, seconds = (int(part) for part in clock_text(timestamp).split(":"))
    assert 0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_shortened_hashes_keep_their_first_ten_digits(digest: str) -> None:
    assert shorten_hashes(f"x sha256:{digest} y") == f"x sha256:{digest[:10]}… y"


def test_a_health_change_is_logged_once_with_its_verdict() -> None:
    model = DashboardModel()
    model.apply(
        [
            ev.HealthChanged(time=T0, source="apiserver-0", check="kms-providers", ok=True, text="ok"),
            ev.HealthChanged(
                time=T0 + 1, source="apiserver-0", check="kms-providers", ok=False, text="failed: Unavailable"
            ),
        ]
    )
    assert list(model.log) == [
        "00:00:00 apiserver-0: kms-providers ok",
        "00:00:01 apiserver-0: kms-providers FAILING failed: Unavailable",
    ]


def test_logged_activity_marks_the_narrative_for_redraw() -> None:
    model = DashboardModel()
    dirty = model.apply([ev.ApiserverLifecycle(time=T0, source="apiserver-0", action="started")])
    assert "narrative" in dirty and model.log_total == 1


def test_a_backend_swap_starts_a_new_generation_with_zero_counts() -> None:
    model = DashboardModel()
    model.apply([ev.PluginCall(time=T0, method="Status"), probe(T0), ev.LogLine(time=T0, text="hi")])
    assert (model.call_total, model.probe_total, len(model.process_log.entries)) == (1, 1, 1)
    model.reset_backend_view()
    assert model.generation == 1
    assert (model.call_total, model.probe_total, len(model.process_log.entries)) == (0, 0, 0)
    model.reset_backend_view()
    assert model.generation == 2


def test_cached_probes_are_counted_apart_from_the_probes_that_called_the_plugin() -> None:
    model = DashboardModel()
    model.apply([probe(T0), probe(T0 + 1, cached=True), probe(T0 + 60)])
    assert (model.probe_total, len(model.probes), model.cached_probes) == (2, 2, 1)


def test_process_log_lines_reach_the_log_view_and_warnings_the_narrative() -> None:
    model = DashboardModel()
    assert model.apply([ev.LogLine(time=T0, source="plugin-0", text="listening")]) == {"logs"}
    dirty = model.apply([ev.LogLine(time=T0, source="local", level="warning", text="1.37 runs as 1.36")])
    assert {"logs", "narrative"} <= dirty
    assert [e.text for e in model.process_log.entries] == ["listening", "1.37 runs as 1.36"]


def probe(t: float, cached: bool = False) -> ev.StatusProbed:
    return ev.StatusProbed(time=t, source="apiserver-0", provider="p", ok=True, key_id="k1", cached=cached)


@given(
    kept=st.integers(min_value=1, max_value=20),
    total=st.integers(min_value=0, max_value=60),
    data=st.data(),
)
def test_tail_since_returns_exactly_the_kept_items_appended_after_seen(
    kept: int, total: int, data: st.DataObject
) -> None:
    seen = data.draw(st.integers(min_value=0, max_value=total))
    items: deque[int] = deque(range(total), maxlen=kept)
    tail = tail_since(items, total, seen)
    # Item i was the i-th appended: the tail is every kept item numbered seen or later.
    assert tail == [i for i in items if i >= seen]
