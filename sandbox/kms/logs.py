"""Plugin log lines: `text` for people, `json` (one object per line) for machines.

Callers attach structured fields with `extra={"fields": {...}}`; both formats print them. The
service only ever passes ids, sizes, codes and timings, never plaintext, DEKs, seeds or KEKs.
"""

from __future__ import annotations

import json
import logging
import sys
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
    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%H:%M:%S") + f".{int(record.msecs):03d}"
        fields = getattr(record, "fields", {})
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
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
