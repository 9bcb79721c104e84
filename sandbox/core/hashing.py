"""The `sha256:<hex>` label form upstream uses for key ids in metrics and error texts."""

from __future__ import annotations

import hashlib


def key_id_hash(s: str) -> str:
    """`sha256:<hex of the UTF-8 bytes>`, or "" for the empty string (the metric label form)."""
    if not s:
        return ""
    return "sha256:" + hashlib.sha256(s.encode()).hexdigest()


def sha256_label(data: bytes) -> str:
    """`sha256:<hex>` of raw bytes, "" when empty (same convention as `key_id_hash`)."""
    if not data:
        return ""
    return "sha256:" + hashlib.sha256(data).hexdigest()
