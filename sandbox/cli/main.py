"""The `kms-sandbox` console script.

With no arguments it opens the terminal UI on the simulator. Each command group lives in its
own module with a `register(subparsers)` function that adds parsers whose `func(args) -> int`
runs the command; heavy imports (grpc, textual, kubernetes) happen inside those functions so
that `--help` and the UI's first frame stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sandbox import __version__
from sandbox.backends.base import BackendError
from sandbox.cli.errors import CliError

COMMAND_MODULES = (
    "sandbox.cli.ui_cmd",
    "sandbox.cli.run_cmd",
    "sandbox.cli.plugin_cmd",
    "sandbox.cli.inspect_cmd",
    "sandbox.cli.setup_cmd",
    "sandbox.cli.cluster_cmd",
    "sandbox.cli.env_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kms-sandbox",
        description="Learn, teach and debug Kubernetes KMS v2 encryption at rest.",
        epilog="Run without a command to open the terminal UI on the embedded simulator.",
    )
    parser.add_argument("--version", action="version", version=f"kms-sandbox {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or args_list[0].startswith("--backend") or args_list[0] == "--kube-version":
        args_list = ["ui", *args_list]
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except CliError as exc:
        print(f"kms-sandbox: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BackendError as exc:
        # A backend that cannot start (unsupported release, missing binary, dead process) is
        # the user's environment, not a bug: one line, no traceback.
        print(f"kms-sandbox: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kms-sandbox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
