"""Is a running cluster really wired to the plugin? Pure checks on what the node reports.

A kubeadm patch in the wrong shape is dropped without an error and the cluster then stores
Secrets in plaintext (kind-wiring.md section 3), and kubeadm upgrades have been seen to drop the
flag (kubernetes/kubernetes#127505). So after creating a cluster, and before reusing one, the
apiserver's static pod (`/etc/kubernetes/manifests/kube-apiserver.yaml`, or the mirror pod's
JSON from the API, same shape) and the node container's mounts are checked here. Each problem
is one sentence a learner can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sandbox.backends.kind.render import CONFIG_DIR_NODE, CONFIG_FILE_NODE, SOCKET_DIR_NODE

RECREATE_HINT = "recreate it with `kms-sandbox cluster down` then `kms-sandbox cluster up`"


def apiserver_flags(pod: Mapping[str, Any]) -> dict[str, str]:
    """`--name=value` flags of the kube-apiserver container (command plus args)."""
    containers = pod.get("spec", {}).get("containers", [])
    container = next((c for c in containers if c.get("name") == "kube-apiserver"), None)
    if container is None and containers:
        container = containers[0]
    argv = [*(container or {}).get("command", []), *(container or {}).get("args", [])]
    flags: dict[str, str] = {}
    for arg in argv:
        if isinstance(arg, str) and arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value
    return flags


def _host_paths(pod: Mapping[str, Any]) -> set[str]:
    return {
        str(v.get("hostPath", {}).get("path", "")).rstrip("/")
        for v in pod.get("spec", {}).get("volumes", [])
        if "hostPath" in v
    }


def apiserver_wiring_problems(pod: Mapping[str, Any], node: str, expect_reload: bool = True) -> list[str]:
    """What is missing from the apiserver pod for the sandbox's encryption to work."""
    problems = []
    flags = apiserver_flags(pod)
    configured = flags.get("encryption-provider-config")
    if configured is None:
        problems.append(
            f"{node}: kube-apiserver runs without --encryption-provider-config, so Secrets are stored in "
            f"plaintext (the kubeadm patch was dropped): {RECREATE_HINT}"
        )
    elif configured != CONFIG_FILE_NODE:
        problems.append(
            f"{node}: kube-apiserver reads its encryption config from {configured}, "
            f"expected {CONFIG_FILE_NODE}: {RECREATE_HINT}"
        )
    if expect_reload and flags.get("encryption-provider-config-automatic-reload") != "true":
        problems.append(
            f"{node}: kube-apiserver runs without --encryption-provider-config-automatic-reload=true, so "
            "config changes need a restart: " + RECREATE_HINT
        )
    mounted = _host_paths(pod)
    for wanted, what in ((CONFIG_DIR_NODE, "encryption config"), (SOCKET_DIR_NODE, "plugin socket")):
        if wanted not in mounted:
            problems.append(f"{node}: the kube-apiserver pod does not mount the {what} directory {wanted}")
    return problems


def node_mount_problems(
    inspect: Mapping[str, Any], node: str, expected: Mapping[str, Path | None]
) -> list[str]:
    """Compares `docker inspect <node>` Mounts with {container path: host path or None (any)}."""
    mounts = {
        str(m.get("Destination", "")).rstrip("/"): str(m.get("Source", "")) for m in inspect.get("Mounts", [])
    }
    problems = []
    for destination, source in expected.items():
        if destination not in mounts:
            problems.append(f"{node}: {destination} is not mounted into the node: {RECREATE_HINT}")
        elif source is not None and Path(mounts[destination]) != Path(source):
            problems.append(
                f"{node}: {destination} comes from {mounts[destination]}, but this sandbox uses {source} "
                f"(was the cluster made with another --state-dir?): {RECREATE_HINT}"
            )
    return problems


def first_inspect(docs: Sequence[Any]) -> Mapping[str, Any]:
    """`docker inspect` prints a JSON list; pick its single object."""
    if docs and isinstance(docs[0], Mapping):
        return docs[0]
    return {}
