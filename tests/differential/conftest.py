"""The differential tests need the same real binaries as tests/local (skipped when absent)."""

from __future__ import annotations

from tests.local.conftest import local_binaries

__all__ = ["local_binaries"]
