"""Plugin log lines: `text` for people, `json` (one object per line) for machines.

Callers attach structured fields with `extra={"fields": {...}}`; both formats print them. The
service only ever passes ids, sizes, codes and timings, never plaintext, DEKs, seeds or KEKs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

LOGGER_NAME = "sandbox.kms"


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": round(record.created, 6),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}))
        return json.dumps(out, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._hms = ""

    def format(self, record: logging.LogRecord) -> str:
        # strftime/localtime once per second, not once per line: this runs for every KMS call.
        second = int(record.created)
        if second != self._second:
            self._second, self._hms = second, time.strftime("%H:%M:%S", time.localtime(second))
        fields = getattr(record, "fields", {})
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = f"{self._hms}.{int(record.msecs):03d}"
        return f"{stamp} {record.levelname.lower():5} {record.getMessage()} {tail}".rstrip()


def configure_logging(fmt: str = "text", level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Sends the plugin's logger to `stream` (stderr) in the chosen format; idempotent."""
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}; expected text or json")
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def skip_unused_record_fields() -> None:
    """Process-wide: LogRecords stop collecting caller, thread and process details.

    Our formats print none of them, and gathering them (a stack walk for the caller, thread and
    process lookups) cost about a third of the per-call log line. The logging HOWTO's
    "Optimization" section documents these switches. Only `kms-sandbox plugin serve` calls
    this, because it owns its whole process.
    """
    logging._srcfile = None  # a documented switch, though the name is private
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
