"""A fake `kind`, `docker` and `kubectl` for tests: records argv, answers like the real tools.

Installed in a temp bin dir as three tiny wrappers (`exec python fake_tool.py <tool> "$@"`).
Every call appends {"tool", "argv", "stdin"} as a JSON line to $FAKE_TOOLS_LOG. State lives in
$FAKE_TOOLS_STATE (a directory):

- clusters.json: {name: {"image": ..., "nodes": {node: {"mounts": [...], "containers": {...}}}}}
- nodes/<node>/<absolute path>: the node's files (the apiserver manifest, written by `kind create`)
- etcd.json: {key: base64 value} for `crictl exec <etcd> etcdctl get`

`kind create cluster` behaves like kind where it matters to the sandbox: it reads the config,
makes one node per control-plane entry with its extraMounts, and applies the kubeadm patches
the way kind does: a node image 1.36+ gets kubeadm v1beta4 (list-style extraArgs), older ones
v1beta3 (map-style); a patch pinned to another apiVersion is dropped without an error. The
resulting flags and volumes go into each node's kube-apiserver manifest.

Knobs (environment): FAKE_DOCKER_DOWN=1 (daemon unreachable), FAKE_DOCKER_DESKTOP=1,
FAKE_KIND_VERSION (default 0.33.0), FAKE_KIND_CREATE_FAIL=1.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

STATE = Path(os.environ.get("FAKE_TOOLS_STATE", "/nonexistent"))


def log_call(tool: str, argv: list[str], stdin: str) -> None:
    with open(os.environ["FAKE_TOOLS_LOG"], "a") as out:
        out.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")


def load(name: str, default: Any) -> Any:
    path = STATE / name
    return json.loads(path.read_text()) if path.exists() else default


def save(name: str, data: Any) -> None:
    (STATE / name).write_text(json.dumps(data, indent=1))


def node_file(node: str, path: str) -> Path:
    return STATE / "nodes" / node / path.lstrip("/")


def flag(argv: list[str], name: str, default: str = "") -> str:
    return argv[argv.index(name) + 1] if name in argv else default


def fail(message: str, code: int = 1) -> int:
    sys.stderr.write(message + "\n")
    return code


# --- kind ---------------------------------------------------------------------------------------


def image_minor(image: str) -> tuple[int, int]:
    match = re.search(r":v(\d+)\.(\d+)", image)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 37)


def apply_patches(patches: list[str], api: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """kind's patch runtime, reduced to apiServer.extraArgs and extraVolumes."""
    args = {"authorization-mode": "Node,RBAC", "runtime-config": ""}
    volumes: list[dict[str, Any]] = []
    for text in patches:
        patch = yaml.safe_load(text)
        if patch.get("kind") != "ClusterConfiguration":
            continue
        version = patch.get("apiVersion")
        if version is not None and version != f"kubeadm.k8s.io/{api}":
            continue  # pinned to another version: kind drops it silently
        server = patch.get("apiServer", {})
        extra = server.get("extraArgs", {})
        if isinstance(extra, dict):
            if api == "v1beta4" and version is not None:
                raise SystemExit(fail("kubeadm v1beta4: extraArgs must be a list of name/value pairs", 1))
            args.update({k: str(v) for k, v in extra.items()})
        else:
            if api == "v1beta3":
                raise SystemExit(fail("kubeadm v1beta3: cannot unmarshal array into extraArgs map", 1))
            args.update({item["name"]: str(item["value"]) for item in extra})
        volumes += server.get("extraVolumes", [])
    return args, volumes


def apiserver_manifest(args: dict[str, str], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-apiserver", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "kube-apiserver",
                    "command": ["kube-apiserver", *(f"--{k}={v}" for k, v in sorted(args.items()))],
                    "volumeMounts": [{"name": v["name"], "mountPath": v["mountPath"]} for v in volumes],
                }
            ],
            "volumes": [
                {"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki"}},
                *({"name": v["name"], "hostPath": {"path": v["hostPath"]}} for v in volumes),
            ],
        },
    }


def kind(argv: list[str]) -> int:
    clusters: dict[str, Any] = load("clusters.json", {})
    if argv[:1] == ["version"]:
        print(f"kind v{os.environ.get('FAKE_KIND_VERSION', '0.33.0')} go1.25.1 linux/amd64")
        return 0
    if argv[:2] == ["get", "clusters"]:
        if not clusters:
            sys.stderr.write("No kind clusters found.\n")
        print("\n".join(sorted(clusters)))
        return 0
    name = flag(argv, "--name", "kind")
    if argv[:2] == ["get", "nodes"]:
        print("\n".join(sorted(clusters.get(name, {}).get("nodes", {}))))
        return 0
    if argv[:2] == ["get", "kubeconfig"]:
        if name not in clusters:
            return fail(f'ERROR: could not locate any control plane nodes for cluster named "{name}"')
        # Valid enough for client libraries; nothing listens on port 9 (discard), so calls fail fast.
        print(
            f"apiVersion: v1\nkind: Config\ncurrent-context: kind-{name}\n"
            f"clusters:\n- name: kind-{name}\n  cluster:\n    server: https://127.0.0.1:9\n"
            "    insecure-skip-tls-verify: true\n"
            f"users:\n- name: kind-{name}\n  user:\n    token: fake\n"
            f"contexts:\n- name: kind-{name}\n  context:\n    cluster: kind-{name}\n    user: kind-{name}\n"
        )
        return 0
    if argv[:2] == ["create", "cluster"]:
        if name in clusters:
            return fail(
                f'ERROR: failed to create cluster: node(s) already exist for a cluster named "{name}"'
            )
        sys.stderr.write(f'Creating cluster "{name}" ...\n ✓ Ensuring node image\n ✓ Preparing nodes\n')
        if os.environ.get("FAKE_KIND_CREATE_FAIL"):
            return fail("ERROR: failed to create cluster: failed to init node with kubeadm: exit status 1")
        config = yaml.safe_load(Path(flag(argv, "--config")).read_text())
        image = flag(argv, "--image", "kindest/node:v1.37.0")
        api = "v1beta4" if image_minor(image) >= (1, 36) else "v1beta3"
        args, volumes = apply_patches(config.get("kubeadmConfigPatches", []), api)
        nodes = {}
        planes = [n for n in config["nodes"] if n["role"] == "control-plane"]
        for index, node in enumerate(planes):
            node_name = f"{name}-control-plane" + (str(index + 1) if index else "")
            mounts = [
                {"Source": m["hostPath"], "Destination": m["containerPath"]}
                for m in node.get("extraMounts", [])
            ]
            nodes[node_name] = {"mounts": mounts, "containers": {"kube-apiserver": "api1", "etcd": "etcd1"}}
            target = node_file(node_name, "/etc/kubernetes/manifests/kube-apiserver.yaml")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(yaml.safe_dump(apiserver_manifest(args, volumes)))
        clusters[name] = {"image": image, "api": api, "nodes": nodes}
        save("clusters.json", clusters)
        sys.stderr.write(f' ✓ Starting control-plane\nSet kubectl context to "kind-{name}"\n')
        return 0
    if argv[:2] == ["delete", "cluster"]:
        sys.stderr.write(f'Deleting cluster "{name}" ...\n')
        clusters.pop(name, None)
        save("clusters.json", clusters)
        return 0
    if argv[:2] == ["load", "docker-image"]:
        if name not in clusters:
            return fail(f'ERROR: no nodes found for cluster "{name}"')
        print(f'Image: "{argv[2]}" with ID "sha256:0123" not yet present on node, loading...')
        return 0
    return fail(f"fake kind: unsupported {argv}")


# --- docker -------------------------------------------------------------------------------------


def find_node(node: str) -> dict[str, Any] | None:
    for cluster in load("clusters.json", {}).values():
        if node in cluster["nodes"]:
            return dict(cluster["nodes"][node])
    return None


def set_container(node: str, name: str, cid: str) -> None:
    clusters = load("clusters.json", {})
    for cluster in clusters.values():
        if node in cluster["nodes"]:
            cluster["nodes"][node]["containers"][name] = cid
    save("clusters.json", clusters)


def node_exec(node: str, argv: list[str], stdin: str) -> int:
    info = find_node(node)
    if info is None:
        return fail(f"Error response from daemon: No such container: {node}")
    containers: dict[str, str] = info["containers"]
    if argv[0] == "cat":
        path = node_file(node, argv[1])
        if not path.exists():
            return fail(f"cat: {argv[1]}: No such file or directory")
        sys.stdout.write(path.read_text())
        return 0
    if argv[:2] == ["test", "-S"]:
        return 0 if node_file(node, argv[2]).exists() else 1
    if argv[:2] == ["sh", "-c"]:
        match = re.search(r"cat > (\S+) && mv \S+ (\S+)$", argv[2])
        if not match:
            return fail(f"fake sh: unsupported script {argv[2]!r}")
        target = node_file(node, match.group(2))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stdin)
        return 0
    if argv[:2] == ["crictl", "ps"]:
        cid = containers.get(flag(argv, "--name"), "")
        print(cid)
        return 0
    if argv[:2] == ["crictl", "stop"]:
        for name, cid in containers.items():
            if cid == argv[2]:
                set_container(node, name, cid[:-1] + str(int(cid[-1]) + 1))  # kubelet restarts it
                print(cid)
                return 0
        return fail(f"container {argv[2]} not found")
    if argv[:2] == ["crictl", "exec"]:
        rest = [a for a in argv[2:] if a != "-i"]
        if rest[0] != containers.get("etcd") or rest[1] != "etcdctl":
            return fail(f"fake crictl: unsupported exec {rest}")
        kept = [a for a in rest[2:] if not a.startswith("--") or a in ("--prefix", "--keys-only")]
        return etcdctl(kept, stdin)
    return fail(f"fake docker exec: unsupported {argv}")


def etcdctl(argv: list[str], stdin: str) -> int:
    data: dict[str, str] = load("etcd.json", {})
    if argv[0] == "put":
        data[argv[1]] = base64.b64encode(stdin.encode()).decode()
        save("etcd.json", data)
        print("OK")
        return 0
    key = argv[1]
    if "--prefix" in argv:
        keys = sorted(k for k in data if k.startswith(key))
    else:
        keys = [key] if key in data else []
    kvs = []
    for k in keys:
        kv = {"key": base64.b64encode(k.encode()).decode(), "mod_revision": 7}
        if "--keys-only" not in argv:
            kv["value"] = data[k]
        kvs.append(kv)
    print(json.dumps({"header": {"revision": 7}, "kvs": kvs, "count": len(kvs)}))
    return 0


def docker(argv: list[str], stdin: str) -> int:
    if os.environ.get("FAKE_DOCKER_DOWN") and argv[:1] in (["version"], ["info"]):
        print("")
        return fail(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
            "Is the docker daemon running?"
        )
    if argv[:1] == ["version"]:
        print("29.9.2")
        return 0
    if argv[:1] == ["info"]:
        print("Docker Desktop" if os.environ.get("FAKE_DOCKER_DESKTOP") else "Ubuntu 24.04 LTS")
        return 0
    if argv[:1] == ["inspect"]:
        info = find_node(argv[1])
        if info is None:
            return fail(f"Error: No such object: {argv[1]}")
        print(json.dumps([{"Name": "/" + argv[1], "Mounts": info["mounts"]}]))
        return 0
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        if rest[0] == "-i":
            rest = rest[1:]
        return node_exec(rest[0], rest[1:], stdin)
    if argv[:1] == ["build"]:
        sys.stderr.write("#1 [internal] load build definition from Dockerfile\n#9 naming to image done\n")
        return 0
    return fail(f"fake docker: unsupported {argv}")


def kubectl(argv: list[str]) -> int:
    if argv[:1] == ["version"]:
        print(json.dumps({"clientVersion": {"gitVersion": "v1.37.0"}}))
        return 0
    return fail(f"fake kubectl: unsupported {argv}")


def main() -> int:
    tool, argv = sys.argv[1], sys.argv[2:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    log_call(tool, argv, stdin)
    if tool == "kind":
        return kind(argv)
    if tool in ("docker", "podman"):
        return docker(argv, stdin)
    return kubectl(argv)


if __name__ == "__main__":
    raise SystemExit(main())
