"""The console script as a user meets it: help, version, and errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_help_lists_every_command_group() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("ui", "run", "scenarios", "schema", "plugin", "inspect", "setup", "cluster", "env"):
        assert command in out.stdout, f"{command} missing from --help"


@pytest.mark.parametrize("version", ["1.24", "1.99"])
def test_an_unsupported_release_is_one_line_and_exit_2(version: str) -> None:
    out = run_cli("run", "first-encryption", "--kube-version", version)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert f"unsupported Kubernetes version '{version}'" in out.stderr


def test_an_unknown_scenario_is_one_line_and_exit_2() -> None:
    out = run_cli("run", "no-such-scenario")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "no-such-scenario" in out.stderr
