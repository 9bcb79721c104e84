"""Command sequences of cluster creation, reuse, verification and node helpers, against the fakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sandbox.backends.kind.commands import CommandError, CommandRunner
from sandbox.backends.kind.images import resolve_node_image
from sandbox.backends.kind.lifecycle import ClusterError, ClusterManager
from sandbox.backends.kind.render import (
    CONFIG_FILE_NODE,
    PLUGIN_MANIFEST_NODE,
    SOCKET_FILE_NODE,
    ClusterSpec,
    template_dir,
)
from tests.kind.conftest import FakeTools


def manager(state: Path, kube_version: str = "1.37", **kwargs: object) -> ClusterManager:
    spec = ClusterSpec(name="demo", image=resolve_node_image(kube_version), state_dir=state, **kwargs)  # type: ignore[arg-type]
    return ClusterManager(spec, CommandRunner(), progress=lambda _msg: None)


@pytest.mark.parametrize("kube_version", ["1.35", "1.37"])
async def test_up_creates_then_verifies_the_running_apiserver(
    fakes: FakeTools, short_tmp: Path, kube_version: str
) -> None:
    mgr = manager(short_tmp / "st", kube_version)
    plugins_started: list[bool] = []

    async def ensure_plugins() -> None:
        plugins_started.append(True)

    assert await mgr.up(ensure_plugins) is True
    calls = fakes.calls()
    create = next(c for c in calls if c[:3] == ["kind", "create", "cluster"])
    assert create[3:] == [
        "--name", "demo",
        "--config", str(short_tmp / "st" / "kind-config.yaml"),
        "--image", mgr.spec.image.reference,
        "--wait", "2m",
    ]  # fmt: skip
    assert plugins_started == [True]
    # The order that matters: clusters listed, created, kubeconfig exported, then the node checked.
    tail = [c[:3] for c in calls if c[0] in ("kind", "docker") and c[1] != "version"]
    assert tail == [
        ["kind", "get", "clusters"],
        ["kind", "create", "cluster"],
        ["kind", "get", "kubeconfig"],
        ["docker", "exec", "demo-control-plane"],
        ["docker", "inspect", "demo-control-plane"],
    ]
    manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    assert ["docker", "exec", "demo-control-plane", "cat", manifest] in calls
    assert mgr.spec.host_kubeconfig.read_text().startswith("apiVersion: v1")
    assert mgr.spec.host_kubeconfig.stat().st_mode & 0o777 == 0o600
    assert "kms:" in mgr.spec.host_config_file.read_text()
    assert fakes.clusters()["demo"]["api"] == mgr.spec.image.kubeadm_api


async def test_reuse_skips_creation_but_checks_the_wiring_again(fakes: FakeTools, short_tmp: Path) -> None:
    mgr = manager(short_tmp / "st")
    await mgr.up()
    before = len(fakes.calls())
    assert await mgr.up() is False
    again = fakes.calls()[before:]
    assert not any(c[:3] == ["kind", "create", "cluster"] for c in again)
    assert ["docker", "inspect", "demo-control-plane"] in again


async def test_reused_cluster_from_another_state_dir_is_refused(fakes: FakeTools, short_tmp: Path) -> None:
    await manager(short_tmp / "a").up()
    message = r"comes from .*/a/encryption, but this sandbox uses .*/b/encryption"
    with pytest.raises(ClusterError, match=message):
        await manager(short_tmp / "b").up()


async def test_a_patch_pinned_to_the_wrong_kubeadm_version_is_caught_after_creation(
    fakes: FakeTools, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The classic trap: a v1beta3-pinned patch on a 1.37 node image is dropped by kind silently.
    broken = short_tmp / "kind-config"
    shutil.copytree(template_dir(), broken)
    v4 = broken / "kubeadm-patch-v1beta4.yaml"
    v4.write_text(v4.read_text().replace("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3"))
    monkeypatch.setenv("KMS_SANDBOX_KIND_CONFIG", str(broken))
    mgr = manager(short_tmp / "st", "1.37")
    message = "runs without --encryption-provider-config, so Secrets are stored in plaintext"
    with pytest.raises(ClusterError, match=message):
        await mgr.up()


async def test_ha_verifies_every_control_plane(fakes: FakeTools, short_tmp: Path) -> None:
    mgr = manager(short_tmp / "st", control_planes=3)
    await mgr.up()
    inspected = [c[2] for c in fakes.calls("docker") if c[1] == "inspect"]
    assert inspected == ["demo-control-plane", "demo-control-plane2", "demo-control-plane3"]
    status = await mgr.status(lambda i: i != 1)
    assert status.wired and status.plugins == (True, False, True)


async def test_in_node_plugins_are_built_loaded_installed_then_switched_on(
    fakes: FakeTools, short_tmp: Path
) -> None:
    mgr = manager(short_tmp / "st", placement="node")
    # The fake node "has" the socket once the static pod is in (as kubelet would make it).
    sock = fakes.state / "nodes" / "demo-control-plane" / SOCKET_FILE_NODE.lstrip("/")
    sock.parent.mkdir(parents=True)
    sock.write_text("")
    await mgr.up()
    calls = fakes.calls()
    steps = [c[:3] for c in calls if c[1] in ("build", "load", "exec", "create")]
    build = next(i for i, c in enumerate(steps) if c[1] == "build")
    load = next(i for i, c in enumerate(steps) if c[1] == "load")
    create = next(i for i, c in enumerate(steps) if c[1] == "create")
    assert create < build < load
    written = fakes.stdin_of(lambda c: c[:3] == ["docker", "exec", "-i"] and PLUGIN_MANIFEST_NODE in c[-1])
    pod = yaml.safe_load(written[0])
    assert pod["spec"]["containers"][0]["image"] == mgr.spec.plugin_image
    assert ["docker", "exec", "demo-control-plane", "crictl", "stop", "api1"] in calls
    assert "kms:" in mgr.spec.host_config_file.read_text()  # switched from the identity bootstrap


async def test_node_helpers_read_binary_etcd_values_and_restart_the_apiserver(
    fakes: FakeTools, short_tmp: Path
) -> None:
    mgr = manager(short_tmp / "st")
    await mgr.up()
    value = b"k8s:enc:kms:v2:kms-sandbox:\n\x00\xff\x10binary"
    fakes.put_etcd("/registry/secrets/default/a", value)
    fakes.put_etcd("/registry/secrets/default/b", b"plain")
    shell = mgr.shell(0)
    assert await shell.etcd_get("/registry/secrets/default/a") == value
    assert await shell.etcd_get("/registry/secrets/default/missing") is None
    keys = await shell.etcd_keys("/registry/secrets/")
    assert keys == ["/registry/secrets/default/a", "/registry/secrets/default/b"]
    etcd_call = next(c for c in fakes.calls("docker") if "etcdctl" in c)
    assert etcd_call[3:6] == ["crictl", "exec", "etcd1"]  # etcdctl directly: no sh -c on distroless etcd
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in etcd_call and etcd_call[-2:] == ["-w", "json"]
    await shell.restart_apiserver(timeout=10)
    assert await shell.container_id("kube-apiserver") == "api2"
    manifest = await shell.apiserver_manifest()
    assert f"--encryption-provider-config={CONFIG_FILE_NODE}" in manifest["spec"]["containers"][0]["command"]


async def test_failing_commands_name_the_command_and_its_stderr(fakes: FakeTools, short_tmp: Path) -> None:
    mgr = manager(short_tmp / "st")
    message = r"docker inspect nope failed \(exit 1\): Error: No such object: nope"
    with pytest.raises(CommandError, match=message):
        await mgr.runner.run(["docker", "inspect", "nope"])
    fakes.without("kind")
    with pytest.raises(CommandError, match="kind is not on PATH"):
        await mgr.exists()
