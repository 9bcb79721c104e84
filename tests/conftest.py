"""Shared fixtures. Sockets live under a short temp dir: sun_path is limited to ~107 bytes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path, for Unix sockets (pytest's tmp_path can be too long)."""
    path = Path(tempfile.mkdtemp(prefix="kmsx-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
