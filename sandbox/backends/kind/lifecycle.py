"""Create, reuse, check and delete a kms-sandbox kind cluster: the command sequences.

`cluster up` on a Linux host (plugin on the host):
  write encryption config + kind config → (plugins already listening) →
  `kind create cluster --name N --config F --image I --wait 2m` → `kind get kubeconfig` →
  per node: `docker exec <node> cat kube-apiserver.yaml` and `docker inspect <node>` → verify.
On Docker Desktop (plugin in the node) the cluster starts on an identity-only config, then:
  `docker build` the plugin image → `kind load docker-image` → per node: copy the static pod
  manifest into /etc/kubernetes/manifests, wait for the socket → write the KMS config →
  `crictl stop` each apiserver (faster than the 1-minute reload poll) → verify.
A cluster that already exists is reused only after the same verification.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.backends.kind.commands import CommandRunner, Progress
from sandbox.backends.kind.nodes import NodeShell
from sandbox.backends.kind.render import (
    CONFIG_DIR_NODE,
    PLUGIN_MANIFEST_NODE,
    SOCKET_DIR_NODE,
    SOCKET_FILE_NODE,
    ClusterSpec,
    render_encryption_config,
    render_kind_config,
    render_plugin_pod,
    template_dir,
)
from sandbox.backends.kind.wiring import apiserver_wiring_problems, node_mount_problems

CREATE_WAIT = "2m"


class ClusterError(Exception):
    """The cluster could not be created, reused or checked; the message says why and what to do."""


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    exists: bool
    nodes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    plugins: tuple[bool, ...] = ()
    """Per control-plane node: does its plugin socket answer (host placement)."""

    @property
    def wired(self) -> bool:
        return self.exists and not self.problems


@dataclass
class ClusterManager:
    spec: ClusterSpec
    runner: CommandRunner
    progress: Progress = field(default=lambda _msg: None)

    # --- queries ---------------------------------------------------------------------------
    async def clusters(self) -> list[str]:
        result = await self.runner.run(["kind", "get", "clusters"], timeout=30)
        return [line.strip() for line in result.text.splitlines() if line.strip()]

    async def exists(self) -> bool:
        return self.spec.name in await self.clusters()

    async def node_names(self) -> list[str]:
        result = await self.runner.run(["kind", "get", "nodes", "--name", self.spec.name], timeout=30)
        return sorted(n.strip() for n in result.text.split() if "control-plane" in n)

    def shell(self, index: int) -> NodeShell:
        return NodeShell(self.runner, self.spec.node_names[index])

    # --- files -----------------------------------------------------------------------------
    def write_files(self, bootstrap: bool = False, encryption_config: str | None = None) -> None:
        """State dir, kind config and (unless one exists) the encryption config, on the host."""
        self.spec.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spec.host_config_dir.mkdir(parents=True, exist_ok=True)
        self.spec.host_kind_config.write_text(render_kind_config(self.spec))
        if encryption_config is not None:
            write_atomically(self.spec.host_config_file, encryption_config)
        elif bootstrap or not self.spec.host_config_file.exists():
            write_atomically(
                self.spec.host_config_file, render_encryption_config(self.spec, bootstrap=bootstrap)
            )

    async def export_kubeconfig(self) -> Path:
        result = await self.runner.run(["kind", "get", "kubeconfig", "--name", self.spec.name], timeout=30)
        path = self.spec.host_kubeconfig
        write_atomically(path, result.text, mode=0o600)
        return path

    # --- lifecycle -------------------------------------------------------------------------
    async def create(self) -> None:
        self.progress(f"creating kind cluster {self.spec.name} ({self.spec.image.reference})")
        await self.runner.run(
            [
                "kind", "create", "cluster",
                "--name", self.spec.name,
                "--config", str(self.spec.host_kind_config),
                "--image", self.spec.image.reference,
                "--wait", CREATE_WAIT,
            ],
            timeout=600,
            progress=self.progress,
        )  # fmt: skip
        await self.export_kubeconfig()

    async def delete(self) -> None:
        self.progress(f"deleting kind cluster {self.spec.name}")
        await self.runner.run(["kind", "delete", "cluster", "--name", self.spec.name], timeout=300)

    async def up(self, ensure_plugins: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Creates the cluster, or reuses it if it is still wired correctly. True if created."""
        in_node = self.spec.placement == "node"
        created = False
        if await self.exists():
            self.progress(f"reusing kind cluster {self.spec.name}")
            self.write_files()
            if ensure_plugins is not None:
                await ensure_plugins()
            await self.export_kubeconfig()
        else:
            self.write_files(bootstrap=in_node)
            if ensure_plugins is not None:
                await ensure_plugins()
            await self.create()
            created = True
            if in_node:
                await self.install_node_plugins()
        problems = await self.verify()
        if problems:
            raise ClusterError(
                problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            )
        self.progress(
            f"cluster {self.spec.name} is wired to the plugin on {len(self.spec.node_names)} node(s)"
        )
        return created

    async def verify(self) -> list[str]:
        """Problems with the running cluster's wiring (empty = good)."""
        problems: list[str] = []
        for index, node in enumerate(self.spec.node_names):
            shell = self.shell(index)
            problems += apiserver_wiring_problems(await shell.apiserver_manifest(), node)
            expected: dict[str, Path | None] = {CONFIG_DIR_NODE: self.spec.host_config_dir}
            if self.spec.placement == "host":
                expected[SOCKET_DIR_NODE] = self.spec.host_socket_dir(index)
            problems += node_mount_problems(await shell.inspect(), node, expected)
        return problems

    async def status(self, plugin_alive: Callable[[int], bool] | None = None) -> ClusterStatus:
        if not await self.exists():
            return ClusterStatus(self.spec.name, exists=False)
        nodes = tuple(await self.node_names())
        if len(nodes) in (1, 3) and len(nodes) != self.spec.control_planes:
            self.spec = dataclasses.replace(self.spec, control_planes=len(nodes))  # trust what runs
        problems = tuple(await self.verify())
        plugins = tuple(plugin_alive(i) for i in range(len(nodes))) if plugin_alive else ()
        return ClusterStatus(self.spec.name, True, nodes, problems, plugins)

    # --- apiservers ------------------------------------------------------------------------
    async def restart_apiservers(self, indexes: list[int] | None = None) -> None:
        for index in indexes if indexes is not None else range(self.spec.control_planes):
            self.progress(f"restarting kube-apiserver on {self.spec.node_names[index]}")
            await self.shell(index).restart_apiserver()

    # --- plugin inside the nodes (Docker Desktop) --------------------------------------------
    async def build_plugin_image(self) -> None:
        root = template_dir().parent
        self.progress(f"building plugin image {self.spec.plugin_image}")
        await self.runner.run(
            [
                self.runner.docker, "build",
                "-f", str(template_dir() / "plugin-image" / "Dockerfile"),
                "-t", self.spec.plugin_image,
                str(root),
            ],
            timeout=900,
            progress=self.progress,
        )  # fmt: skip

    async def load_plugin_image(self) -> None:
        self.progress(f"loading {self.spec.plugin_image} into the nodes")
        await self.runner.run(
            ["kind", "load", "docker-image", self.spec.plugin_image, "--name", self.spec.name], timeout=600
        )

    async def install_node_plugins(self, socket_timeout: float = 120.0) -> None:
        """Image in, static pods in, wait for sockets, switch the config to KMS, restart apiservers."""
        await self.build_plugin_image()
        await self.load_plugin_image()
        manifest = render_plugin_pod(self.spec).encode()
        for index in range(self.spec.control_planes):
            await self.shell(index).write_file(PLUGIN_MANIFEST_NODE, manifest)
        for index in range(self.spec.control_planes):
            await self.wait_for_node_socket(index, socket_timeout)
        write_atomically(self.spec.host_config_file, render_encryption_config(self.spec))
        await self.restart_apiservers()

    async def wait_for_node_socket(self, index: int, timeout: float) -> None:
        shell = self.shell(index)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await shell.has_socket(SOCKET_FILE_NODE):
                return
            await asyncio.sleep(1.0)
        raise ClusterError(
            f"the plugin on {shell.node} did not create {SOCKET_FILE_NODE} within {timeout:.0f} s: "
            f"see `docker exec {shell.node} crictl logs "
            f"$(docker exec {shell.node} crictl ps -q --name kms-sandbox-plugin)`"
        )


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """New file + rename: readers (and the apiserver's reload poll) never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


def describe(status: ClusterStatus) -> str:
    """Human-readable status, for `kms-sandbox cluster status`."""
    if not status.exists:
        return f"cluster {status.name}: not created (run `kms-sandbox cluster up --name {status.name}`)"
    lines = [f"cluster {status.name}: {'wired to the plugin' if status.wired else 'NOT wired correctly'}"]
    for i, node in enumerate(status.nodes):
        plugin = ""
        if i < len(status.plugins):
            plugin = "  plugin: up" if status.plugins[i] else "  plugin: down"
        lines.append(f"  {node}{plugin}")
    lines += [f"  problem: {p}" for p in status.problems]
    return "\n".join(lines)


def status_json(status: ClusterStatus) -> str:
    return json.dumps(
        {
            "name": status.name,
            "exists": status.exists,
            "wired": status.wired,
            "nodes": list(status.nodes),
            "plugins_up": list(status.plugins),
            "problems": list(status.problems),
        },
        indent=2,
    )
