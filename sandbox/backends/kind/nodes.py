"""Commands run inside one kind node with `docker exec`: crictl, etcdctl, files, the apiserver.

Everything goes through the node rather than the API server on purpose: the lessons need etcd
and the apiserver container while the apiserver is down or not ready (cold start, outages).
etcdctl is called directly in the etcd container with `crictl exec` because recent etcd
images are distroless (no shell for `sh -c`), and with `-w json` because stored values are
binary (the JSON form carries keys and values base64-encoded).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Sequence
from typing import Any

import yaml

from sandbox.backends.kind.commands import CommandError, CommandResult, CommandRunner

ETCD_FLAGS = (
    "--endpoints=https://127.0.0.1:2379",
    "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
    "--cert=/etc/kubernetes/pki/etcd/server.crt",
    "--key=/etc/kubernetes/pki/etcd/server.key",
)
APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"


class NodeError(Exception):
    """A node command failed in a way the backend cannot go on from."""


class NodeShell:
    """One node container, e.g. "kms-control-plane"."""

    def __init__(self, runner: CommandRunner, node: str) -> None:
        self.runner = runner
        self.node = node

    async def exec(
        self, *argv: str, input: bytes | None = None, check: bool = True, timeout: float = 60.0
    ) -> CommandResult:
        interactive = ["-i"] if input is not None else []
        return await self.runner.run(
            [self.runner.docker, "exec", *interactive, self.node, *argv],
            input=input,
            check=check,
            timeout=timeout,
        )

    async def inspect(self) -> dict[str, Any]:
        result = await self.runner.run([self.runner.docker, "inspect", self.node], timeout=30)
        docs = json.loads(result.text or "[]")
        return docs[0] if docs else {}

    async def ip_address(self) -> str:
        networks = (await self.inspect()).get("NetworkSettings", {}).get("Networks", {})
        for network in networks.values():
            if network.get("IPAddress"):
                return str(network["IPAddress"])
        raise NodeError(f"{self.node} has no IP address on any container network")

    # --- files ------------------------------------------------------------------------------
    async def read_file(self, path: str) -> str:
        return (await self.exec("cat", path)).text

    async def write_file(self, path: str, data: bytes) -> None:
        """Atomic inside the node: write a temp file next to it, then rename over."""
        tmp = f"{path}.kms-sandbox-tmp"
        await self.exec(
            "sh", "-c", f'mkdir -p "$(dirname {path})" && cat > {tmp} && mv {tmp} {path}', input=data
        )

    async def move_file(self, source: str, target: str) -> None:
        await self.exec("sh", "-c", f'mkdir -p "$(dirname {target})" && mv {source} {target}')

    async def has_socket(self, path: str) -> bool:
        return (await self.exec("test", "-S", path, check=False)).ok

    # --- containers -------------------------------------------------------------------------
    async def container_id(self, name: str) -> str:
        """The running CRI container called `name` ("" when none runs)."""
        result = await self.exec("crictl", "ps", "--name", name, "-q", check=False, timeout=30)
        ids = result.text.split()
        return ids[0] if result.ok and ids else ""

    async def apiserver_manifest(self) -> dict[str, Any]:
        loaded = yaml.safe_load(await self.read_file(APISERVER_MANIFEST))
        return loaded if isinstance(loaded, dict) else {}

    async def restart_apiserver(self, timeout: float = 120.0) -> None:
        """`crictl stop` the apiserver; kubelet starts a new container. Returns once it runs.

        Readiness is the caller's to poll (/livez: with the plugin down /readyz never turns ok).
        """
        old = await self.container_id("kube-apiserver")
        if not old:
            raise NodeError(f"no kube-apiserver container runs on {self.node}")
        await self.exec("crictl", "stop", old, timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = await self.container_id("kube-apiserver")
            if new and new != old:
                return
            await asyncio.sleep(0.5)
        raise NodeError(f"kubelet did not restart kube-apiserver on {self.node} within {timeout:.0f} s")

    # --- etcd -------------------------------------------------------------------------------
    async def etcdctl(self, *args: str) -> CommandResult:
        etcd = await self.container_id("etcd")
        if not etcd:
            raise NodeError(f"no etcd container runs on {self.node}")
        return await self.exec("crictl", "exec", etcd, "etcdctl", *ETCD_FLAGS, *args, timeout=30)

    async def etcd_get(self, key: str) -> bytes | None:
        kvs = _kvs(await self.etcdctl("get", key, "-w", "json"))
        return base64.b64decode(kvs[0]["value"]) if kvs else None

    async def etcd_keys(self, prefix: str) -> list[str]:
        kvs = _kvs(await self.etcdctl("get", prefix, "--prefix", "--keys-only", "-w", "json"))
        return sorted(base64.b64decode(kv["key"]).decode() for kv in kvs)

    async def etcd_put(self, key: str, value: bytes) -> None:
        """etcdctl put reads the value from stdin when it is not on the command line."""
        etcd = await self.container_id("etcd")
        if not etcd:
            raise NodeError(f"no etcd container runs on {self.node}")
        await self.exec(
            "crictl", "exec", "-i", etcd, "etcdctl", *ETCD_FLAGS, "put", key, input=value, timeout=30
        )


def _kvs(result: CommandResult) -> Sequence[dict[str, Any]]:
    try:
        doc = json.loads(result.text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"etcdctl printed something that is not JSON: {exc}", result) from None
    kvs = doc.get("kvs") or []
    return kvs if isinstance(kvs, list) else []
