"""KindBackend against fake kind/docker with real host plugins, and the in-node control tunnel."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from sandbox.backends.base import BackendError, BackendOptions
from sandbox.backends.kind.backend import KindBackend
from sandbox.backends.kind.render import SOCKET_FILE_NODE
from sandbox.backends.kind.tunnel import StdioTunnel
from sandbox.core.events import PluginCall, PluginStateChanged
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.process import PluginProcess
from tests.kind.conftest import FakeTools

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="host plugins are Linux-only")


async def test_missing_docker_daemon_is_a_backend_error(
    fakes: FakeTools, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_DOWN", "1")
    backend = KindBackend(BackendOptions(state_dir=str(short_tmp / "st")))
    with pytest.raises(BackendError, match="docker is installed but its daemon is not reachable"):
        await backend.start()
    await backend.stop()  # safe after a failed start


@pytest.mark.slow
@linux_only
async def test_backend_owns_its_plugins_and_cluster_and_leaves_nothing(
    fakes: FakeTools, short_tmp: Path
) -> None:
    backend = KindBackend(BackendOptions(state_dir=str(short_tmp / "st"), kube_version="1.35"))
    await backend.start()
    try:
        spec = backend.spec
        assert spec.image.version == "v1.35.8" and backend.apiserver_count == 1
        assert "demo" not in fakes.clusters() and "kms-sandbox" in fakes.clusters()
        assert backend.versions()["node_image"] == spec.image.reference
        # The plugin is ours: control it, and its state changes arrive on our bus.
        seen: list[object] = []
        backend.events.subscribe(seen.append)
        async with PluginControlClient(backend.plugin_control_endpoint(0)) as control:
            new_key = await control.rotate()
        for _ in range(100):
            if any(isinstance(e, PluginStateChanged) for e in seen):
                break
            await asyncio.sleep(0.05)
        changes = [e for e in seen if isinstance(e, PluginStateChanged)]
        assert changes and changes[0].current_key_id == new_key
        assert not any(isinstance(e, PluginCall) for e in seen)  # nobody called Encrypt yet

        # Scenarios write configs with the host socket path: the node gets the in-container one.
        host_endpoint = f"unix://{spec.host_socket_file(0)}"
        config = f"kind: EncryptionConfiguration\nendpoint: {host_endpoint}\n"
        await backend.set_encryption_config(config)
        assert (
            spec.host_config_file.read_text()
            == f"kind: EncryptionConfiguration\nendpoint: unix://{SOCKET_FILE_NODE}\n"
        )

        fakes.put_etcd("/registry/secrets/default/s", b"k8s:enc:kms:v2:kms-sandbox:\x0a\x01")
        stored = await backend.etcd_get("/registry/secrets/default/s")
        assert stored == b"k8s:enc:kms:v2:kms-sandbox:\x0a\x01"
        assert await backend.etcd_keys("/registry/") == ["/registry/secrets/default/s"]
        # No apiserver behind the fake kubeconfig: an API call is an outcome, not a crash.
        result = await backend.get("secrets", "default", "s")
        assert not result.ok and result.reason == "ConnectionError"

        await backend.stop_plugin(0)
        assert not spec.host_socket_file(0).exists()
        await backend.start_plugin(0)
        assert spec.host_socket_file(0).is_socket()
    finally:
        await backend.stop()
    assert fakes.clusters() == {}  # created by this run and not kept
    assert backend._plugins is not None and not backend._plugins.running(0)


async def test_tunnel_carries_the_control_api_over_a_command(short_tmp: Path) -> None:
    plugin = PluginProcess(short_tmp / "p", kms_endpoint=f"unix://{short_tmp}/p/kms.sock")
    await plugin.start()
    control_path = plugin.control_endpoint.removeprefix("unix://")
    tunnel = StdioTunnel(
        short_tmp / "tunnel.sock", [sys.executable, "-m", "sandbox.backends.kind.stdio_bridge", control_path]
    )
    await tunnel.start()
    try:
        async with PluginControlClient(tunnel.endpoint) as through_tunnel:
            state = await through_tunnel.get_state()
            rotated = await through_tunnel.rotate()
        async with PluginControlClient(plugin.control_endpoint) as direct:
            assert (await direct.get_state()).current_key_id == rotated != state.current_key_id
    finally:
        await tunnel.stop()
        await plugin.stop()
    assert not (short_tmp / "tunnel.sock").exists()
