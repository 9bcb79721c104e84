"""`kms-sandbox run` never prints a traceback: bad options, a backend that cannot start, Ctrl-C.

Every case is a real subprocess, as a user would run it; the Ctrl-C case sends a real SIGINT in
the middle of a step and then looks for any process still using the run's state directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.scenarios.conftest import DATA
from tests.scenarios.test_cli import cli


def _one_line_error(out: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("kms-sandbox: error: ") and message in out.stderr, out.stderr


def test_unsupported_kube_versions_fail_before_anything_starts(tmp_path: Path) -> None:
    out = cli("run", "first-encryption", "--kube-version", "1.99")
    _one_line_error(out, 2, "--kube-version: unsupported Kubernetes version '1.99'")
    assert out.stdout == "", "nothing ran"
    in_file = tmp_path / "old.yaml"
    in_file.write_text(
        (DATA / "failing.yaml").read_text().replace("cluster:\n", 'cluster:\n  kubeVersion: "1.2"\n')
    )
    _one_line_error(cli("run", str(in_file)), 2, "scenario failing: cluster.kubeVersion: unsupported")


def test_unwritable_report_and_junit_paths_fail_before_anything_starts(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    out = cli("run", "first-encryption", "--report", str(a_file))
    _one_line_error(out, 2, f"--report: cannot create directory '{a_file}'")
    out = cli("run", "first-encryption", "--junit", str(a_file / "results.xml"))
    _one_line_error(out, 2, f"--junit: cannot create directory '{a_file}'")
    assert out.stdout == ""


def test_a_backend_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((DATA / "failing.yaml").read_text().replace("name: kms-test, ", ""))
    out = cli("run", str(broken))
    _one_line_error(out, 2, "the sim backend cannot start: apiserver failed to start: ")
    assert "name is a mandatory field for a provider" in out.stderr


def _processes_using(path: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_ctrl_c_mid_run_stops_the_backend_and_exits_130(short_tmp: Path) -> None:
    state = short_tmp / "ctrl-c"
    # 60 KMS v1 objects with 150 ms per Decrypt: the restart step takes ~9 s of real time.
    command = [sys.executable, "-m", "sandbox", "run", "restart-time-decryption", "--json"]
    command += ["--set", "secrets=60", "--set", "decryptLatencyMs=150", "--state-dir", str(state)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if event["kind"] == "step.start" and event["index"] == 1:
                break
        else:
            raise AssertionError("the run ended before the restart step")
        assert _processes_using(state), "the plugins are running"
        time.sleep(0.5)  # inside the restart's initial LIST
        os.kill(proc.pid, signal.SIGINT)
        rest, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "kms-sandbox: interrupted", stderr
    assert '"kind": "scenario.finish"' not in rest
    deadline = time.monotonic() + 5
    while _processes_using(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_using(state), "every plugin process is gone"
