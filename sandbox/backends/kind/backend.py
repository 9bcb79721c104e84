"""`KindBackend`: the Backend contract on a real kind cluster wired to the bundled plugin.

Objects go through the API server (the kubeconfig kind writes; one client per apiserver for
HA), raw etcd values through `etcdctl` in the node (works while the apiserver is down), the
apiserver is restarted with `crictl stop`, and the encryption config is rewritten atomically
in the host directory every control-plane node mounts. Plugins run on the host (Linux; one per
node, events streamed from their control API) or inside the nodes (Docker Desktop; control
through a `docker exec` tunnel). A cluster this backend created is deleted on stop unless
`BackendOptions.keep`; one it found (made by `kms-sandbox cluster up`) is left as it was.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from sandbox.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    HealthResult,
    ListResult,
    MigrationResult,
    ObjectKind,
    OpResult,
)
from sandbox.backends.kind import plugins as host_plugins
from sandbox.backends.kind.commands import CommandError, CommandRunner, Progress
from sandbox.backends.kind.images import ImageError, resolve_node_image
from sandbox.backends.kind.lifecycle import ClusterError, ClusterManager, write_atomically
from sandbox.backends.kind.nodes import NodeError
from sandbox.backends.kind.prereqs import PrerequisiteError, check_prerequisites
from sandbox.backends.kind.render import (
    CONTROL_SOCKET_NODE,
    PLUGIN_MANIFEST_NODE,
    PLUGIN_MANIFEST_PARKED,
    ClusterSpec,
    RenderError,
    default_cluster_name,
    default_state_dir,
    rewrite_endpoints,
)
from sandbox.backends.kind.tunnel import StdioTunnel
from sandbox.backends.kube_api import KubeApi
from sandbox.core.events import ApiserverLifecycle, ClockAdvanced, EventBus, LogLine


class KindBackend(Backend):
    name = "kind"
    HA = True
    KMS_V1 = True
    RAW_ETCD_WRITE = True

    def __init__(
        self,
        options: BackendOptions,
        events: EventBus | None = None,
        *,
        cluster_name: str = "",
        runner: CommandRunner | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(options, events)
        self.cluster_name = cluster_name or default_cluster_name(options.apiservers)
        self.runner = runner or CommandRunner()
        self.progress: Progress = progress or self._log
        self._manager: ClusterManager | None = None
        self._plugins: host_plugins.HostPlugins | None = None
        self._tunnels: list[StdioTunnel] = []
        self._api_via_kind: KubeApi | None = None
        self._node_apis: dict[int, KubeApi] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._created = False
        self._kind_release = ""

    def _log(self, message: str) -> None:
        self.events.publish(LogLine(time=time.time(), source="kind", text=message))

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def spec(self) -> ClusterSpec:
        if self._manager is None:
            raise BackendError("the kind backend is not started")
        return self._manager.spec

    async def start(self) -> None:
        try:
            image = resolve_node_image(self.options.kube_version)
            prereqs = await check_prerequisites(self.runner, image)
            spec = ClusterSpec(
                name=self.cluster_name,
                image=image,
                state_dir=_state_dir(self.options.state_dir, self.cluster_name),
                control_planes=self.options.apiservers,
                placement=prereqs.placement,
                plugin_api=self.options.plugin_api,
                feature_gates=dict(self.options.feature_gates),
            )
            if self.options.plugins > self.options.apiservers:
                raise RenderError(
                    "the kind backend runs one plugin per apiserver; this run asks for "
                    f"{self.options.plugins} plugins and {self.options.apiservers} apiserver(s): "
                    "use the sim or local backend"
                )
        except (ImageError, RenderError, PrerequisiteError) as exc:
            raise BackendError(str(exc)) from None
        self._kind_release = prereqs.kind_release
        started_at = time.time()
        self._manager = ClusterManager(spec, self.runner, self.progress)
        try:
            existed = await self._manager.exists()
            if existed:
                running = (await self._manager.shell(0).inspect()).get("Config", {}).get("Image", "")
                self.progress(f"reusing cluster {spec.name} (node image {running or 'unknown'})")
            if self.options.encryption_config:
                self._manager.write_files(
                    encryption_config=self._in_node_config(self.options.encryption_config)
                )
            await self._manager.up(self._ensure_host_plugins if spec.placement == "host" else None)
            self._created = not existed
            if spec.placement == "node":
                await self._start_tunnels()
            self._connect_apis()
        except (ClusterError, CommandError, NodeError, host_plugins.PluginStartError) as exc:
            await self.stop()
            raise BackendError(str(exc)) from None
        for index in range(spec.control_planes):
            self._watchers.append(asyncio.create_task(self._watch_plugin(index, started_at)))
        self.events.publish(
            ApiserverLifecycle(time=time.time(), source="kind", action="started", detail=spec.name)
        )

    async def _ensure_host_plugins(self) -> None:
        spec = self.spec
        if host_plugins.daemon_pid(spec) is not None:
            return  # `kms-sandbox cluster up` left its plugins running: use them, leave them
        self._plugins = host_plugins.HostPlugins(spec)
        await self._plugins.start()

    async def _start_tunnels(self) -> None:
        for index, node in enumerate(self.spec.node_names):
            cid = await self._manager_or_fail().shell(index).container_id("kms-sandbox-plugin")
            command = [self.runner.docker, "exec", "-i", node, "crictl", "exec", "-i", cid]
            command += ["python", "-m", "sandbox.backends.kind.stdio_bridge", CONTROL_SOCKET_NODE]
            tunnel = StdioTunnel(self.spec.host_control_socket(index), command)
            await tunnel.start()
            self._tunnels.append(tunnel)

    def _connect_apis(self) -> None:
        self._api_via_kind = KubeApi.from_kubeconfig(str(self.spec.host_kubeconfig), self.spec.kube_context)

    async def _api(self, index: int) -> KubeApi:
        """Apiserver `index` itself (HA lessons need a chosen one), or kind's endpoint for a single one.

        Each node's apiserver answers on <node IP>:6443 (its certificate names that address);
        node IPs are reachable from Linux hosts, not from Docker Desktop, which then uses kind's.
        """
        if self._api_via_kind is None:
            raise BackendError("the kind backend is not started")
        if self.spec.control_planes == 1 or self.spec.placement == "node":
            return self._api_via_kind
        if index not in self._node_apis:
            address = await self._manager_or_fail().shell(index).ip_address()
            self._node_apis[index] = KubeApi.from_kubeconfig(
                str(self.spec.host_kubeconfig), self.spec.kube_context, server=f"https://{address}:6443"
            )
        return self._node_apis[index]

    def _manager_or_fail(self) -> ClusterManager:
        if self._manager is None:
            raise BackendError("the kind backend is not started")
        return self._manager

    async def _watch_plugin(self, index: int, since: float) -> None:
        """Republishes plugin `index`'s calls and state changes on our bus; reconnects while it is down.

        Each (re)connection asks for the plugin's recent history and keeps only what is newer than
        the last event passed on (at first: this run's start), so nothing is lost between the
        plugin starting and the stream opening, and nothing is published twice.
        """
        from sandbox.kms.control_client import PluginControlClient

        source = f"plugin-{index}" if self.spec.control_planes > 1 else "plugin"
        newest = since
        while True:
            with contextlib.suppress(Exception):
                async with PluginControlClient(self.plugin_control_endpoint(index), source=source) as client:
                    async for event in client.watch_events(replay=1000):
                        if event.time > newest:
                            newest = event.time
                            self.events.publish(event)
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._watchers.clear()
        for tunnel in self._tunnels:
            await tunnel.stop()
        self._tunnels.clear()
        for api in [self._api_via_kind, *self._node_apis.values()]:
            if api is not None:
                api.close()
        self._api_via_kind = None
        self._node_apis.clear()
        if self._plugins is not None:
            await self._plugins.stop()
        if self._manager is not None and self._created and not self.options.keep:
            with contextlib.suppress(CommandError):
                await self._manager.delete()
            self._created = False

    # --- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time()

    async def advance(self, seconds: float, reason: str = "") -> None:
        await asyncio.sleep(seconds)
        self.events.publish(ClockAdvanced(time=time.time(), source="kind", seconds=seconds, reason=reason))

    # --- objects ------------------------------------------------------------------------------
    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes], apiserver: int = 0
    ) -> OpResult:
        api = await self._api(apiserver)
        if namespace != "default":
            with contextlib.suppress(Exception):
                await api.ensure_namespace(namespace)
        return await api.create(kind, namespace, name, data)

    async def get(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return await (await self._api(apiserver)).get(kind, namespace, name)

    async def update(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        data: Mapping[str, bytes] | None = None,
        apiserver: int = 0,
    ) -> OpResult:
        return await (await self._api(apiserver)).update(kind, namespace, name, data)

    async def delete(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return await (await self._api(apiserver)).delete(kind, namespace, name)

    async def list(self, kind: ObjectKind, namespace: str | None = None, apiserver: int = 0) -> ListResult:
        return await (await self._api(apiserver)).list(kind, namespace)

    async def migrate(
        self, kinds: tuple[ObjectKind, ...] = ("secrets",), apiserver: int = 0
    ) -> MigrationResult:
        return await (await self._api(apiserver)).migrate(kinds)

    # --- etcd (through node 0: every member holds the same data) -------------------------------
    async def etcd_get(self, key: str) -> bytes | None:
        return await self._manager_or_fail().shell(0).etcd_get(key)

    async def etcd_keys(self, prefix: str) -> builtins.list[str]:
        return await self._manager_or_fail().shell(0).etcd_keys(prefix)

    async def etcd_put(self, key: str, value: bytes) -> None:
        await self._manager_or_fail().shell(0).etcd_put(key, value)

    # --- apiservers ----------------------------------------------------------------------------
    @property
    def apiserver_count(self) -> int:
        return self.spec.control_planes

    async def restart_apiserver(self, index: int | None = None) -> None:
        indexes = list(range(self.apiserver_count)) if index is None else [index]
        await self._manager_or_fail().restart_apiservers(indexes)
        for i in indexes:
            await self._wait_live(i)
            self.events.publish(
                ApiserverLifecycle(time=time.time(), source=f"apiserver-{i}", action="restarted")
            )

    async def _wait_live(self, index: int, timeout: float = 120.0) -> None:
        """/livez, not /readyz: with the plugin down readyz stays failing, and that is the lesson."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (await self.health("/livez", index)).ok:
                return
            await asyncio.sleep(0.5)
        raise BackendError(f"kube-apiserver {index} was not live {timeout:.0f} s after its restart")

    def _in_node_config(self, yaml_text: str) -> str:
        spec = self.spec if self._manager else None
        sockets = [str(spec.host_socket_file(i)) for i in range(spec.control_planes)] if spec else []
        return rewrite_endpoints(yaml_text, sockets)

    async def set_encryption_config(
        self, yaml_text: str, mode: Literal["reload", "restart"] = "reload"
    ) -> None:
        """Atomic rewrite in the mounted directory; with reload, each apiserver sees it within ~1 min."""
        write_atomically(self.spec.host_config_file, self._in_node_config(yaml_text))
        detail = (
            "config rewritten; the apiservers poll it every minute"
            if mode == "reload"
            else "config rewritten"
        )
        self.events.publish(
            ApiserverLifecycle(time=time.time(), source="kind", action="config-written", detail=detail)
        )
        if mode == "restart":
            await self.restart_apiserver()

    async def health(self, path: str = "/healthz/kms-providers", apiserver: int = 0) -> HealthResult:
        return await (await self._api(apiserver)).health(path)

    async def metrics(self, apiserver: int = 0) -> str:
        return await (await self._api(apiserver)).metrics()

    # --- plugins --------------------------------------------------------------------------------
    def plugin_control_endpoint(self, index: int = 0) -> str:
        return f"unix://{self.spec.host_control_socket(index)}"

    @property
    def plugin_count(self) -> int:
        return self.spec.control_planes if self._manager else self.options.apiservers

    async def stop_plugin(self, index: int = 0) -> None:
        if self.spec.placement == "node":
            # kubelet would restart a stopped static pod: park its manifest outside manifests/.
            await self._manager_or_fail().shell(index).move_file(PLUGIN_MANIFEST_NODE, PLUGIN_MANIFEST_PARKED)
        elif self._plugins is not None:
            await self._plugins.stop(index)
        else:
            raise BackendError("the plugins belong to `kms-sandbox cluster up`: run `cluster down` first")

    async def start_plugin(self, index: int = 0) -> None:
        if self.spec.placement == "node":
            await self._manager_or_fail().shell(index).move_file(PLUGIN_MANIFEST_PARKED, PLUGIN_MANIFEST_NODE)
            await self._manager_or_fail().wait_for_node_socket(index, 120)
        elif self._plugins is not None:
            await self._plugins.start(index)

    async def restart_plugin(self, index: int = 0, down_for: float = 0.0) -> None:
        await self.stop_plugin(index)
        if down_for:
            await self.advance(down_for, f"plugin {index} down")
        await self.start_plugin(index)

    # --- reports ---------------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        out = {"backend": self.name, "kubernetes": self.options.kube_version}
        if self._manager is not None:
            out.update(kubernetes=self.spec.image.version, node_image=self.spec.image.reference)
            out.update(kind=self._kind_release, placement=self.spec.placement)
        return out

    def logs(self) -> dict[str, str]:
        return self._plugins.logs() if self._plugins is not None else {}


def _state_dir(configured: str, cluster: str) -> Path:
    return Path(configured).expanduser().absolute() if configured else default_state_dir(cluster)
