"""Finding, version handling and wrapper-module generation, without building anything."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sandbox.backends.local import binaries as bins
from sandbox.cli.main import main

KUBE_GO_MOD = """module k8s.io/kubernetes

go 1.26.0

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
\tk8s.io/kms v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/kms => ./staging/src/k8s.io/kms
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
"""


def _fake_binary(path: Path, version: str = "v1.37.2") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho 'Kubernetes {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _fake_pair(directory: Path, version: str = "v1.37.2") -> None:
    _fake_binary(directory / "kube-apiserver", version)
    _fake_binary(directory / "etcd")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)


@pytest.mark.parametrize(("given", "expected"), [("1.37.2", "v1.37.2"), (" v1.30.0 ", "v1.30.0")])
def test_normalize_kube_version(given: str, expected: str) -> None:
    assert bins.normalize_kube_version(given) == expected


@pytest.mark.parametrize("bad", ["v1.37", "v1.37.0-rc.1", "2.0.0", "latest"])
def test_normalize_rejects_non_releases(bad: str) -> None:
    with pytest.raises(bins.SetupError, match="invalid Kubernetes version"):
        bins.normalize_kube_version(bad)


def test_cache_honours_xdg(tmp_path: Path) -> None:
    assert bins.cache_bin_dir("1.37.2") == tmp_path / "xdg" / "kms-sandbox" / "bin" / "v1.37.2"


def test_nothing_found_in_empty_places(tmp_path: Path) -> None:
    assert bins.find_binaries("v1.37.2", tmp_path / "nope") is None


def test_bin_dir_wins_over_cache(tmp_path: Path) -> None:
    _fake_pair(tmp_path / "mine")
    _fake_pair(bins.cache_bin_dir("v1.37.2"))
    found = bins.find_binaries("v1.37.2", tmp_path / "mine")
    assert found is not None
    assert found.source == "bin-dir"
    assert found.kube_apiserver == tmp_path / "mine" / "kube-apiserver"


def test_half_a_pair_is_not_enough(tmp_path: Path) -> None:
    _fake_binary(tmp_path / "mine" / "kube-apiserver")
    assert bins.find_binaries("v1.37.2", tmp_path / "mine") is None


def test_kubebuilder_assets_used_only_for_matching_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pair(tmp_path / "assets", version="v1.30.0")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    assert bins.find_binaries("v1.37.2") is None
    found = bins.find_binaries("v1.30.0")
    assert found is not None
    assert found.source == "KUBEBUILDER_ASSETS"


def test_cache_found() -> None:
    _fake_pair(bins.cache_bin_dir("v1.37.2"))
    found = bins.find_binaries("1.37.2")
    assert found is not None
    assert found.source == "cache"


def test_local_replacements_only_for_required_modules() -> None:
    assert bins.local_replacements(KUBE_GO_MOD) == ["k8s.io/api", "k8s.io/kms"]


def test_wrapper_module(tmp_path: Path) -> None:
    bins.write_wrapper_module(
        tmp_path,
        "k8s.io/kubernetes",
        "v1.37.2",
        "k8s.io/kubernetes/cmd/kube-apiserver",
        {"k8s.io/api": "v0.37.2"},
        "1.26.0",
    )
    go_mod = (tmp_path / "go.mod").read_text()
    assert "require k8s.io/kubernetes v1.37.2" in go_mod
    assert "\tk8s.io/api => k8s.io/api v0.37.2" in go_mod
    assert '_ "k8s.io/kubernetes/cmd/kube-apiserver"' in (tmp_path / "tools.go").read_text()


def test_ldflags_stamp_the_release() -> None:
    flags = bins.kube_ldflags("1.37.2", "2026-10-27T12:01:04Z")
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in flags
    assert "-X k8s.io/component-base/version.gitMinor=37" in flags
    assert flags.startswith("-s -w")


def test_etcd_version_from_dependencies_yaml(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "dependencies.yaml").write_text(
        'dependencies:\n  # etcd\n  - name: "etcd"\n    version: 3.7.0\n    refPaths:\n'
    )
    assert bins.etcd_version_for(tmp_path) == "v3.7.0"


def test_build_without_go_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(bins.SetupError, match="install Go"):
        bins.build_binaries("v1.37.2", lambda _line: None)
    assert not bins.cache_root().exists()


def test_cli_failure_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["setup", "local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("kms-sandbox: error: the Go toolchain (`go`) is not on PATH")
    assert "Traceback" not in "\n".join(err)


def test_cli_prints_found_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fake_pair(tmp_path / "mine")
    assert main(["setup", "local", "--bin-dir", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert f"kube-apiserver: {tmp_path / 'mine' / 'kube-apiserver'}" in out
    assert "source: bin-dir" in out
