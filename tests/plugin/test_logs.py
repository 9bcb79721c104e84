"""Log formatting: the per-second timestamp cache never shows a stale second."""

from __future__ import annotations

import logging
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.kms.logs import TextFormatter


def record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("sandbox.kms", logging.INFO, __file__, 1, "kms call", None, None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.fields = {"method": "Encrypt", "code": "OK"}
    return record


@settings(deadline=None, max_examples=200)
@given(st.lists(st.floats(min_value=1e9, max_value=2e9, allow_nan=False), min_size=1, max_size=20))
def test_cached_timestamps_match_strftime(times: list[float]) -> None:
    formatter = TextFormatter()  # one formatter, reused across records, as in the plugin
    for created in times:
        line = formatter.format(record_at(created))
        expected = (
            time.strftime("%H:%M:%S", time.localtime(int(created))) + f".{int((created % 1) * 1000):03d}"
        )
        assert line == f"{expected} info  kms call method=Encrypt code=OK"
