"""`kms-sandbox cluster ...` as a real subprocess with fake kind/docker on PATH.

`cluster up` on Linux starts the real plugin daemon (real plugin processes, real sockets);
`cluster down` must leave none of them behind.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sandbox.backends.kind import plugins
from sandbox.backends.kind.images import resolve_node_image
from sandbox.backends.kind.render import ClusterSpec
from tests.kind.conftest import FakeTools


def cli(fakes: FakeTools, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    merged = {**os.environ, **fakes.env, **env}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "cluster", *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("kms-sandbox: error: ") and text in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("kube_version", "api"), [("1.29", None), ("1.35", None), ("1.36", "kubeadm.k8s.io/v1beta4")]
)
def test_config_prints_a_parseable_kind_config(fakes: FakeTools, kube_version: str, api: str | None) -> None:
    result = cli(
        fakes, "config", "--kube-version", kube_version, "--control-planes", "3", "--state-dir", "/tmp/s"
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert len(config["nodes"]) == 3
    assert yaml.safe_load(config["kubeadmConfigPatches"][0]).get("apiVersion") == api
    assert fakes.calls() == []  # rendering needs no Docker


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("config", "--control-planes", "2"), "--control-planes must be 1 or 3"),
        (("config", "--kube-version", "1.12"), "no kind node image for Kubernetes 1.12"),
        (("config", "--name", "No Spaces"), "cluster name 'No Spaces' is not valid"),
        (("config", "--node-image", "kindest/node:latest"), "cannot tell the Kubernetes version"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fakes: FakeTools, args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(cli(fakes, *args), 2, text)


def test_prerequisite_failures_say_what_to_install(fakes: FakeTools, short_tmp: Path) -> None:
    state = ("--state-dir", str(short_tmp / "st"))
    down = cli(fakes, "up", *state, FAKE_DOCKER_DOWN="1")
    assert_one_line_error(down, 2, "docker is installed but its daemon is not reachable")
    assert "sudo systemctl start docker" in down.stderr
    old = cli(fakes, "up", "--kube-version", "1.36", *state, FAKE_KIND_VERSION="0.31.0")
    assert_one_line_error(old, 2, "node image v1.36.4 needs kind v0.32.0 or newer (kubeadm v1beta4)")
    fakes.without("kind")
    assert_one_line_error(cli(fakes, "up", *state), 2, "kind is not on PATH: install kind v0.33.0")
    fakes.without("docker")
    assert_one_line_error(cli(fakes, "up", *state), 2, "neither docker nor podman is on PATH")
    assert not any(c[:2] == ["kind", "create"] for c in fakes.calls())


@pytest.fixture
def daemon_guard(short_tmp: Path) -> Iterator[ClusterSpec]:
    """The spec the CLI test uses; whatever happens, no plugin daemon survives the test."""
    spec = ClusterSpec(name="kms-sandbox", image=resolve_node_image(), state_dir=short_tmp / "st")
    yield spec
    asyncio.run(plugins.stop_daemon(spec))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="host plugins (and this test) are Linux-only")
def test_up_status_down_with_real_host_plugins(fakes: FakeTools, daemon_guard: ClusterSpec) -> None:
    spec = daemon_guard
    state = ("--state-dir", str(spec.state_dir))
    up = cli(fakes, "up", *state)
    assert up.returncode == 0, up.stderr
    assert "cluster kms-sandbox is up: kubectl --context kind-kms-sandbox" in up.stdout
    assert "creating kind cluster kms-sandbox" in up.stderr and "Starting control-plane" in up.stderr
    pid = plugins.daemon_pid(spec)
    assert pid is not None and plugins.control_answers(spec.host_control_socket(0))
    assert spec.host_socket_file(0).is_socket()  # the socket the node mounts, made by the real plugin

    status = cli(fakes, "status", *state, "--json")
    assert status.returncode == 0, status.stderr
    assert '"wired": true' in status.stdout and '"plugins_up": [\n    true\n  ]' in status.stdout

    again = cli(fakes, "up", *state)  # reuse: no second create, same daemon
    assert again.returncode == 0 and "reusing kind cluster" in again.stderr
    assert sum(c[:3] == ["kind", "create", "cluster"] for c in fakes.calls()) == 1
    assert plugins.daemon_pid(spec) == pid

    down = cli(fakes, "down", *state)
    assert down.returncode == 0, down.stderr
    assert "stopped the plugin daemon" in down.stderr and "cluster kms-sandbox deleted" in down.stdout
    assert plugins.daemon_pid(spec) is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not plugins.control_answers(spec.host_control_socket(0))
    assert fakes.clusters() == {}
    gone = cli(fakes, "status", *state)
    assert gone.returncode == 0 and "not created" in gone.stdout
    assert spec.state_dir.exists()  # keys and configs survive a plain `down`
    purged = cli(fakes, "down", *state, "--purge")
    assert purged.returncode == 0 and "does not exist" in purged.stdout
    assert not spec.state_dir.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="host plugins are Linux-only")
def test_failed_creation_leaves_no_cluster_and_no_plugins(
    fakes: FakeTools, daemon_guard: ClusterSpec
) -> None:
    result = cli(fakes, "up", "--state-dir", str(daemon_guard.state_dir), FAKE_KIND_CREATE_FAIL="1")
    assert_one_line_error(result, 1, "kind create cluster failed (exit 1)")
    assert plugins.daemon_pid(daemon_guard) is None
    assert ["kind", "delete", "cluster", "--name", "kms-sandbox"] not in fakes.calls()  # nothing was made
