"""Command group placeholder; its owner fills in register()."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Adds this module's commands (none yet)."""
