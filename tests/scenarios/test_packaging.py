"""The catalogue ships in the wheel: a real build, a real non-editable install, a real run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sandbox.scenarios.loader import PACKAGED_DIR, SOURCE_DIR, bundled_dir, bundled_paths

ROOT = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def test_a_source_checkout_reads_the_top_level_scenarios_directory() -> None:
    assert not PACKAGED_DIR.exists(), "the packaged copy belongs in wheels only, never in the tree"
    assert bundled_dir() == SOURCE_DIR == ROOT / "scenarios"
    assert [p.name for p in bundled_paths()] == sorted(p.name for p in SOURCE_DIR.glob("*.yaml"))


def _copy_build_inputs(dest: Path) -> None:
    """The files a build reads, without caches or others' work in progress (build/, egg-info)."""
    for name in BUILD_INPUTS:
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "sandbox", dest / "sandbox", ignore=ignore)
    shutil.copytree(ROOT / "scenarios", dest / "scenarios")


@pytest.mark.slow
def test_a_wheel_install_finds_the_catalogue_without_the_source_tree(tmp_path: Path) -> None:
    src, dist, site = tmp_path / "src", tmp_path / "dist", tmp_path / "site"
    src.mkdir()
    _copy_build_inputs(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(dist)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    shipped = sorted(
        Path(n).name for n in zipfile.ZipFile(wheel).namelist() if n.startswith("sandbox/scenarios/bundled/")
    )
    assert shipped == sorted(p.name for p in SOURCE_DIR.glob("*.yaml"))

    install = [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}

    def installed(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
        )

    where = installed("-c", "import sandbox.scenarios.loader as l; print(l.__file__); print(l.bundled_dir())")
    module, directory = where.stdout.split()
    assert module.startswith(str(site)) and directory == str(site / "sandbox/scenarios/bundled")
    listing = installed("-m", "sandbox", "scenarios", "--json")
    assert listing.returncode == 0, listing.stderr
    assert len(json.loads(listing.stdout)) == len(shipped)
    run = installed("-m", "sandbox", "run", "first-encryption")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "first-encryption passed" in run.stdout
