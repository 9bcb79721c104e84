"""`kms-sandbox ui`: the terminal UI (also what `kms-sandbox` with no arguments opens)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from sandbox.cli.errors import CliError

BACKENDS = ("sim", "local", "kind")
KUBE_VERSION = re.compile(r"^1\.\d{2}$")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="open the terminal UI (the default command)",
        description="Run scenarios and watch KMS v2 envelope encryption live in the terminal.",
    )
    parser.add_argument("--backend", default="sim", help="sim (default, embedded simulator), local or kind")
    parser.add_argument(
        "--kube-version", default="", metavar="X", help='Kubernetes release to model, e.g. "1.34"'
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.backend not in BACKENDS:
        raise CliError(f"unknown backend {args.backend!r}: expected one of {', '.join(BACKENDS)}")
    if args.kube_version and not KUBE_VERSION.match(args.kube_version):
        raise CliError(f"bad --kube-version {args.kube_version!r}: expected a release such as 1.34")
    if not sys.stdout.isatty():
        raise CliError("the UI needs a terminal; use `kms-sandbox run SCENARIO` for headless runs", 1)
    from sandbox.backends.base import BackendOptions
    from sandbox.ui.app import run_app

    return run_app(args.backend, BackendOptions(kube_version=args.kube_version))
