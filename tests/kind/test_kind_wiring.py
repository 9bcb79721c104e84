"""Pure wiring checks on apiserver pods and node mounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.backends.kind.render import CONFIG_DIR_NODE, CONFIG_FILE_NODE, SOCKET_DIR_NODE
from sandbox.backends.kind.wiring import apiserver_flags, apiserver_wiring_problems, node_mount_problems


def pod(command: list[str], host_paths: list[str]) -> dict[str, Any]:
    return {
        "spec": {
            "containers": [{"name": "kube-apiserver", "command": command}],
            "volumes": [{"name": f"v{i}", "hostPath": {"path": p}} for i, p in enumerate(host_paths)],
        }
    }


GOOD = pod(
    [
        "kube-apiserver",
        f"--encryption-provider-config={CONFIG_FILE_NODE}",
        "--encryption-provider-config-automatic-reload=true",
        "--v=6",
    ],
    [CONFIG_DIR_NODE, SOCKET_DIR_NODE + "/"],
)


def test_a_wired_pod_has_no_problems_and_its_flags_are_read() -> None:
    assert apiserver_wiring_problems(GOOD, "n") == []
    assert apiserver_flags(GOOD)["v"] == "6"


def test_each_missing_piece_is_named() -> None:
    bare = pod(["kube-apiserver", "--authorization-mode=Node,RBAC"], [])
    problems = apiserver_wiring_problems(bare, "demo-control-plane")
    assert len(problems) == 4
    assert problems[0].startswith("demo-control-plane: kube-apiserver runs without --encryption-provider")
    assert "automatic-reload" in problems[1]
    assert "encryption config directory" in problems[2] and "plugin socket directory" in problems[3]
    elsewhere = pod(
        ["kube-apiserver", "--encryption-provider-config=/etc/enc.yaml"], [CONFIG_DIR_NODE, SOCKET_DIR_NODE]
    )
    wrong_file = apiserver_wiring_problems(elsewhere, "n", expect_reload=False)
    assert "reads its encryption config from /etc/enc.yaml" in wrong_file[0]


def test_node_mounts_must_come_from_this_sandbox() -> None:
    inspect = {"Mounts": [{"Source": "/s/encryption", "Destination": CONFIG_DIR_NODE}]}
    expected: dict[str, Path | None] = {CONFIG_DIR_NODE: Path("/s/encryption"), SOCKET_DIR_NODE: None}
    problems = node_mount_problems(inspect, "n", expected)
    assert len(problems) == 1
    assert problems[0].startswith(f"n: {SOCKET_DIR_NODE} is not mounted into the node: recreate it")
    assert node_mount_problems(inspect, "n", {CONFIG_DIR_NODE: Path("/other")})[0].startswith(
        f"n: {CONFIG_DIR_NODE} comes from /s/encryption, but this sandbox uses /other"
    )
