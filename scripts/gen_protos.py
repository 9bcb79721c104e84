#!/usr/bin/env python3
"""Regenerate sandbox/_proto from proto/ with the pinned grpcio-tools; --check fails on drift.

The .proto sources live under proto/sandbox/_proto/ so that their import paths mirror the Python
package: protoc then emits absolute `sandbox._proto...` imports and no post-processing is needed.
Generation happens in a temporary directory and the result replaces sandbox/_proto whole, so a
removed .proto file cannot leave stale modules behind.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PINNED_GRPCIO_TOOLS = "1.85.1"
ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
TARGET = ROOT / "sandbox" / "_proto"
HEADER = '"""Generated protobuf code. Never edit: run scripts/gen_protos.py."""\n'


def check_toolchain() -> None:
    from importlib.metadata import version

    found = version("grpcio-tools")
    if found != PINNED_GRPCIO_TOOLS:
        hint = "pip install -e '.[dev]'"
        sys.exit(f"gen_protos: grpcio-tools {found} found, {PINNED_GRPCIO_TOOLS} expected ({hint})")


def generate(out: Path) -> None:
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *sources,
    ]
    subprocess.run(cmd, check=True)
    generated = out / "sandbox" / "_proto"
    for grpc_file in generated.rglob("*_pb2_grpc.py"):
        # Message-only protos get an empty servicer module; drop it rather than commit noise.
        if "class " not in grpc_file.read_text():
            grpc_file.unlink()
    for directory in [generated, *(d for d in generated.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").write_text(HEADER)


def same_tree(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    diffs = [*cmp.left_only, *cmp.right_only, *cmp.diff_files, *cmp.funny_files]
    for sub in cmp.common_dirs:
        diffs += [f"{sub}/{d}" for d in same_tree(a / sub, b / sub)]
    # dircmp compares shallowly by stat; confirm the contents of files it called equal.
    for name in cmp.same_files:
        if (a / name).read_bytes() != (b / name).read_bytes():
            diffs.append(name)
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is out of date")
    args = parser.parse_args()
    check_toolchain()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "sandbox" / "_proto"
        if args.check:
            diffs = same_tree(fresh, TARGET) if TARGET.exists() else ["sandbox/_proto missing"]
            if diffs:
                print("sandbox/_proto is out of date with proto/: " + ", ".join(sorted(diffs)))
                print("run: python scripts/gen_protos.py")
                return 1
            print("sandbox/_proto is up to date")
            return 0
        if TARGET.exists():
            shutil.rmtree(TARGET)
        shutil.copytree(fresh, TARGET, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"regenerated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
