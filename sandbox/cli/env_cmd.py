"""`kms-sandbox env`: the shell line that points kubectl at the local sandbox.

    eval "$(kms-sandbox env)"      # then: kubectl get secrets -A

The local backend writes `<state>/kubeconfig` (cluster-admin via a client certificate) and
records its newest state directory; this command prints `export KUBECONFIG=<that file>`. A
sandbox that is no longer running (a kept state directory) still gets the line, with a note on
stderr, so its logs and etcd data can be found; nothing at all is a clear error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sandbox.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "env",
        help="print `export KUBECONFIG=...` for the local backend's sandbox",
        description=(
            "Print the shell line that points kubectl at the running (or kept) local sandbox: "
            'eval "$(kms-sandbox env)". Without --state-dir, the newest local run is used.'
        ),
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="the sandbox's state directory (default: the newest run)"
    )
    parser.add_argument(
        "--shell", choices=("sh", "fish"), default="sh", help="syntax of the line (default: sh, bash, zsh)"
    )
    parser.set_defaults(func=run_env)


def run_env(args: argparse.Namespace) -> int:
    from sandbox.backends.local.state import RunRecord, current_state_dir

    state_dir = args.state_dir or current_state_dir()
    if state_dir is None:
        raise CliError(
            "no local sandbox found: start one with `kms-sandbox ui --backend local` (or "
            "`kms-sandbox run SCENARIO --backend local --keep`), or pass --state-dir DIR",
            exit_code=1,
        )
    state_dir = Path(state_dir).expanduser().absolute()
    try:
        record = RunRecord.read(state_dir)
    except (OSError, ValueError, TypeError):
        raise CliError(
            f"{state_dir} holds no local sandbox (no readable local-sandbox.json): "
            "expected the state directory of a local-backend run",
            exit_code=1,
        ) from None
    if not Path(record.kubeconfig).is_file():
        raise CliError(f"the sandbox in {state_dir} has no kubeconfig (it did not finish starting)", 1)
    if not record.alive():
        print(
            f"# note: the local sandbox in {state_dir} is not running (kept state only); "
            f"kubectl will not connect",
            file=sys.stderr,
        )
    quoted = shlex.quote(record.kubeconfig)
    print(f"set -gx KUBECONFIG {quoted}" if args.shell == "fish" else f"export KUBECONFIG={quoted}")
    return 0
