"""The local backend's pure parts: etcd prefix ranges, release choice, kubeconfig, `kms-sandbox env`.

No binaries needed: releases are faked with tiny executables in a private XDG cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sandbox.backends.local import binaries as bins
from sandbox.backends.local.etcd_api import prefix_range_end
from sandbox.backends.local.pki import PkiPaths
from sandbox.backends.local.state import RunRecord, kubeconfig_text


@given(st.binary(min_size=1, max_size=12), st.binary(max_size=12))
def test_prefix_range_end_bounds_exactly_the_prefixed_keys(prefix: bytes, suffix: bytes) -> None:
    end = prefix_range_end(prefix)
    assert prefix + suffix < end or end == b"\0"
    if end != b"\0":
        assert prefix <= end and not end.startswith(prefix)


def test_prefix_range_end_examples() -> None:
    assert prefix_range_end(b"/registry/secrets/") == b"/registry/secrets0"
    assert prefix_range_end(b"a\xff") == b"b"
    assert prefix_range_end(b"\xff\xff") == b"\0"


def _fake_release(cache: Path, version: str) -> None:
    directory = cache / "kms-sandbox" / "bin" / version
    directory.mkdir(parents=True)
    for name in ("kube-apiserver", "etcd"):
        path = directory / name
        path.write_text("#!/bin/sh\necho Kubernetes " + version + "\n")
        path.chmod(0o755)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    return tmp_path


def test_minor_request_prefers_that_minor_then_falls_back_with_a_note(cache: Path) -> None:
    _fake_release(cache, "v1.37.2")
    _fake_release(cache, "v1.34.1")
    _fake_release(cache, "v1.34.3")
    assert bins.resolve_for_run("1.34").kube_version == "v1.34.3"
    exact = bins.resolve_for_run("v1.34.1")
    assert exact.kube_version == "v1.34.1" and not exact.note
    fallback = bins.resolve_for_run("1.30")
    assert fallback.kube_version == "v1.37.2"
    assert "1.30 is not set up" in fallback.note and "v1.37.2" in fallback.note
    assert bins.resolve_for_run("").kube_version == bins.DEFAULT_KUBE_VERSION


def test_exact_release_is_never_substituted(cache: Path) -> None:
    _fake_release(cache, "v1.37.2")
    with pytest.raises(bins.SetupError, match=r"setup local --kube-version v1.36.0"):
        bins.resolve_for_run("1.36.0")


def test_nothing_set_up_says_what_to_run(cache: Path) -> None:
    with pytest.raises(bins.SetupError, match="run `kms-sandbox setup local`"):
        bins.resolve_for_run("1.34")


def _pki(directory: Path) -> PkiPaths:
    names = ("ca.crt", "ca.key", "a.crt", "a.key", "admin.crt", "admin.key", "sa.key", "sa.pub")
    return PkiPaths(*(directory / n for n in names))


def test_kubeconfig_points_at_the_server_and_the_admin_files(tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    config = yaml.safe_load(kubeconfig_text("https://127.0.0.1:6443", pki))
    assert config["current-context"] == "kms-sandbox-local"
    assert config["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority": str(pki.ca_cert),
    }
    assert config["users"][0]["user"] == {
        "client-certificate": str(pki.admin_cert),
        "client-key": str(pki.admin_key),
    }


def _env(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "env", *args], capture_output=True, text=True, env=env, check=False
    )


def test_env_prints_the_export_line_for_a_recorded_sandbox(tmp_path: Path) -> None:
    state = tmp_path / "state dir"
    state.mkdir()
    (state / "kubeconfig").write_text("{}")
    RunRecord(
        state_dir=str(state),
        kube_version="v1.37.2",
        kubeconfig=str(state / "kubeconfig"),
        pids={"apiserver-0": os.getpid()},
    ).write()
    done = _env("--state-dir", str(state), cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"export KUBECONFIG='{state / 'kubeconfig'}'\n"
    assert done.stderr == ""
    fish = _env("--state-dir", str(state), "--shell", "fish", cache=tmp_path)
    assert fish.stdout.startswith("set -gx KUBECONFIG ")


def test_env_uses_the_newest_run_and_notes_a_stopped_one(tmp_path: Path) -> None:
    state = tmp_path / "kept"
    state.mkdir()
    (state / "kubeconfig").write_text("{}")
    RunRecord(str(state), "v1.37.2", str(state / "kubeconfig"), running=False).write()
    pointer = tmp_path / "kms-sandbox" / "local" / "current"
    pointer.parent.mkdir(parents=True)
    pointer.write_text(str(state))
    done = _env(cache=tmp_path)
    assert done.returncode == 0
    assert "KUBECONFIG=" in done.stdout
    assert "not running" in done.stderr


def test_env_without_a_sandbox_is_one_clear_line(tmp_path: Path) -> None:
    done = _env(cache=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("kms-sandbox: error: no local sandbox found")
    assert len(done.stderr.strip().splitlines()) == 1
    bad = _env("--state-dir", str(tmp_path), cache=tmp_path)
    assert bad.returncode == 1 and "holds no local sandbox" in bad.stderr
    record = json.dumps({"state_dir": "x"})
    (tmp_path / "local-sandbox.json").write_text(record)
    assert _env("--state-dir", str(tmp_path), cache=tmp_path).returncode == 1
