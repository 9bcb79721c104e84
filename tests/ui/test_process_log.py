"""The log view's state: bounded, repeats folded, a wait's progress updated in place."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.core import events as ev
from sandbox.ui.process_log import ProcessLog, one_line, wait_text

T0 = 1_767_225_600.0


def line(text: str, source: str = "plugin-0", level: str = "info", t: float = T0) -> ev.LogLine:
    return ev.LogLine(time=t, source=source, level=level, text=text)


def test_a_line_repeated_back_to_back_is_one_entry_with_a_count() -> None:
    log = ProcessLog()
    for i in range(5):
        log.add(line("dial unix /tmp/kms.sock: connection refused", t=T0 + i))
    log.add(line("connected"))
    log.add(line("dial unix /tmp/kms.sock: connection refused"))
    assert [(e.text, e.repeats) for e in log.entries] == [
        ("dial unix /tmp/kms.sock: connection refused", 5),
        ("connected", 1),
        ("dial unix /tmp/kms.sock: connection refused", 1),
    ]
    assert log.entries[0].time == T0 + 4  # the latest repeat's time
    assert log.folded == 4


def test_the_same_text_from_another_source_or_level_is_a_new_entry() -> None:
    log = ProcessLog()
    log.add(line("ready", source="apiserver-0"))
    log.add(line("ready", source="apiserver-1"))
    log.add(line("ready", source="apiserver-1", level="warning"))
    assert len(log.entries) == 3


def test_a_waits_progress_updates_one_entry_in_place() -> None:
    log = ProcessLog()
    for waited in (5.0, 10.0, 15.0):
        log.add(ev.WaitProgress(time=T0 + waited, source="clock", waited=waited, total=60, reason="probe"))
    assert len(log.entries) == 1
    assert log.entries[0].text == "waiting real time (probe) ██░░░░░░░░ 15/60 s"
    log.add(line("probe ok", source="apiserver-0"))
    log.add(ev.WaitProgress(time=T0 + 20, source="clock", waited=20, total=60, reason="probe"))
    assert len(log.entries) == 3  # a line in between: the next progress starts a new entry


def test_other_events_are_not_log_entries() -> None:
    log = ProcessLog()
    assert not log.add(ev.PluginCall(time=T0, method="Status"))
    assert (len(log.entries), log.version) == (0, 0)


def test_multi_line_output_becomes_one_line() -> None:
    assert one_line("panic: boom\n\tgoroutine 1\n") == "panic: boom ⏎  goroutine 1"


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"])), max_size=200))
def test_the_log_is_bounded_and_accounts_for_every_event(lines: list[tuple[str, str]]) -> None:
    log = ProcessLog(kept=10)
    for source, text in lines:
        log.add(line(text, source=source))
    assert len(log.entries) <= 10
    assert log.version == len(lines)
    # Every event is an entry (kept or dropped off the front) or folded into one.
    assert sum(e.repeats for e in log.entries) <= len(lines)
    if len(log.entries) < 10:  # nothing dropped yet
        assert sum(e.repeats for e in log.entries) == len(lines)
    for before, after in zip(log.entries, list(log.entries)[1:], strict=False):
        assert (before.source, before.text) != (after.source, after.text)


@given(
    waited=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    total=st.floats(min_value=0, max_value=1e4, allow_nan=False),
)
def test_wait_text_always_draws_a_ten_cell_bar(waited: float, total: float) -> None:
    text = wait_text(ev.WaitProgress(time=T0, waited=min(waited, total), total=total))
    bar = "".join(c for c in text if c in "█░")
    assert len(bar) == 10
    assert bar == "█" * bar.count("█") + "░" * bar.count("░")  # filled cells first
