"""The pure text helpers the panels draw with (no app needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.ui.widgets.plugin_calls import code_text
from sandbox.ui.widgets.status_panel import probe_count_text, short_error


def test_a_failed_status_call_shows_its_grpc_code() -> None:
    error = (
        "failed to perform status section of the healthz check for KMS Provider kms-provider, "
        "error: rpc error: code = Unavailable desc = plugin outage injected by kms-sandbox"
    )
    assert short_error(error) == "Unavailable"
    assert short_error("got unexpected healthz status: nope") == "got unexpected healthz status: nope"
    assert short_error("") == "FAIL"


@given(total=st.integers(min_value=0, max_value=10_000), cached=st.integers(min_value=0, max_value=99))
def test_the_probe_count_names_the_rows_of_the_table(total: int, cached: int) -> None:
    rows = min(total, 100)
    text = probe_count_text(total, rows, cached).plain
    assert text.startswith(f"{total} Status probe")
    if rows < total:
        assert f"last {rows} below" in text
    assert (f"{cached} health check" in text) == bool(cached)


def test_long_grpc_codes_fit_the_code_column() -> None:
    for code in ("OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "INVALID_ARGUMENT", "FAILED_PRECONDITION"):
        assert len(code_text(code).plain) <= 11
