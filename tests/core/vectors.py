"""Locating the shared recorded test vectors (../shared/vectors beside the clone)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors"
LEGACY_AES_GCM_KEY = VECTORS_DIR / "kmsv2-legacy-aes-gcm-key.json"


def load_legacy_vector() -> dict[str, Any]:
    if not LEGACY_AES_GCM_KEY.is_file():
        pytest.skip(
            f"shared test vector not found at {LEGACY_AES_GCM_KEY} (CI puts ../shared beside the clone)"
        )
    data: dict[str, Any] = json.loads(LEGACY_AES_GCM_KEY.read_text())
    return data
