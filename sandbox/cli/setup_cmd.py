"""`kms-sandbox setup local`: make real etcd + kube-apiserver binaries available for the local backend.

Finding is instant; building takes minutes, so the command reuses anything it can find
(`--bin-dir`, `$KUBEBUILDER_ASSETS`, the per-release cache) and builds only when nothing fits.
Failures print one line and exit 2 (via CliError), never a traceback. `binaries` is imported
eagerly: it uses only the standard library, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sandbox.backends.local import binaries as bins
from sandbox.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `setup` and its only target so far, `setup local`."""
    setup = subparsers.add_parser("setup", help="prepare what a backend needs (binaries, caches)")
    targets = setup.add_subparsers(dest="setup_target", metavar="TARGET", required=True)
    local = targets.add_parser(
        "local",
        help="find or build kube-apiserver and etcd for the local backend",
        description=(
            "Find kube-apiserver and etcd in --bin-dir, $KUBEBUILDER_ASSETS or the cache, or build "
            "them from the Go module proxy (needs Go; several minutes on a cold build cache)."
        ),
    )
    local.add_argument(
        "--kube-version",
        default=None,
        help="Kubernetes release, e.g. v1.37.2, or 'latest' to ask the Go module proxy "
        "(default: the pinned release)",
    )
    local.add_argument(
        "--bin-dir", type=Path, default=None, help="directory holding prebuilt etcd and kube-apiserver"
    )
    local.set_defaults(func=run_setup_local)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_setup_local(args: argparse.Namespace) -> int:
    """Print the paths of usable binaries, building them into the cache if needed."""
    try:
        version = _chosen_version(args.kube_version)
        found = bins.find_binaries(version, args.bin_dir)
        if found is None:
            if args.bin_dir is not None:
                _progress(f"no etcd + kube-apiserver in {args.bin_dir}; building into the cache")
            _progress(f"building Kubernetes {version} binaries into {bins.cache_bin_dir(version)}")
            found = bins.build_binaries(version, _progress)
    except bins.SetupError as exc:
        raise CliError(_one_line(str(exc))) from None
    print(f"kube-version: {version}")
    print(f"source: {found.source}")
    print(f"kube-apiserver: {found.kube_apiserver}")
    print(f"etcd: {found.etcd}")
    return 0


def _chosen_version(requested: str | None) -> str:
    if requested is None:
        return bins.DEFAULT_KUBE_VERSION
    if requested == "latest":
        return bins.resolve_latest_kube_version()
    return bins.normalize_kube_version(requested)


def _one_line(message: str) -> str:
    """CliError prints one line; keep the first line and the last line of go's output."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else "setup failed"
    return f"{lines[0]} ... {lines[-1]}"
