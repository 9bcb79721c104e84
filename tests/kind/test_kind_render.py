"""Rendered kind configs, checked field by field for every supported node-image line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.backends.kind.images import NODE_IMAGES, NodeImage, resolve_node_image
from sandbox.backends.kind.render import (
    CONFIG_DIR_NODE,
    CONFIG_FILE_NODE,
    CONTROL_SOCKET_NODE,
    SOCKET_DIR_NODE,
    SOCKET_FILE_NODE,
    ClusterSpec,
    RenderError,
    render_encryption_config,
    render_kind_config,
    render_plugin_pod,
    rewrite_endpoints,
)

STATE = Path("/tmp/kms-test-state/demo")


def spec_for(image: NodeImage, **kwargs: Any) -> ClusterSpec:
    return ClusterSpec(name="demo", image=image, state_dir=STATE, **kwargs)


def rendered(spec: ClusterSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    config = yaml.safe_load(render_kind_config(spec))
    patches = config["kubeadmConfigPatches"]
    assert len(patches) == 1 and isinstance(patches[0], str)  # kind wants each patch as a YAML string
    return config, yaml.safe_load(patches[0])


def args_of(patch: dict[str, Any]) -> dict[str, str]:
    extra = patch["apiServer"]["extraArgs"]
    return extra if isinstance(extra, dict) else {item["name"]: item["value"] for item in extra}


@pytest.mark.parametrize("image", NODE_IMAGES, ids=lambda i: i.version)
def test_every_supported_line_renders_mounts_and_the_patch_in_its_kubeadm_shape(image: NodeImage) -> None:
    config, patch = rendered(spec_for(image))
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    assert config["name"] == "demo"
    (node,) = config["nodes"]
    assert node["role"] == "control-plane"
    mounts = {m["containerPath"]: m for m in node["extraMounts"]}
    assert mounts[CONFIG_DIR_NODE]["hostPath"] == str(STATE / "encryption")
    assert mounts[CONFIG_DIR_NODE]["readOnly"] is True
    assert mounts[SOCKET_DIR_NODE]["hostPath"] == str(STATE / "n0" / "sock")
    assert all(m["propagation"] == "None" for m in mounts.values())

    assert patch["kind"] == "ClusterConfiguration"
    if image.minor >= (1, 36):
        assert patch["apiVersion"] == "kubeadm.k8s.io/v1beta4"
        assert isinstance(patch["apiServer"]["extraArgs"], list)
        assert all(set(item) == {"name", "value"} for item in patch["apiServer"]["extraArgs"])
    else:
        assert "apiVersion" not in patch  # unversioned: never dropped for a version mismatch
        assert isinstance(patch["apiServer"]["extraArgs"], dict)
    assert args_of(patch) == {
        "encryption-provider-config": CONFIG_FILE_NODE,
        "encryption-provider-config-automatic-reload": "true",
    }
    volumes = {v["name"]: v for v in patch["apiServer"]["extraVolumes"]}
    assert volumes["kms-sandbox-config"] == {
        "name": "kms-sandbox-config",
        "hostPath": CONFIG_DIR_NODE,
        "mountPath": CONFIG_DIR_NODE,
        "readOnly": True,
        "pathType": "DirectoryOrCreate",
    }
    socket_volume = volumes["kms-sandbox-socket"]
    assert socket_volume["hostPath"] == socket_volume["mountPath"] == SOCKET_DIR_NODE
    assert volumes["kms-sandbox-socket"]["readOnly"] is False


@pytest.mark.parametrize("kube_version", ["1.35", "1.37"])
def test_ha_gives_each_control_plane_its_own_socket_directory(kube_version: str) -> None:
    spec = spec_for(resolve_node_image(kube_version), control_planes=3)
    config, _ = rendered(spec)
    assert [n["role"] for n in config["nodes"]] == ["control-plane"] * 3
    sockets = [
        next(m["hostPath"] for m in n["extraMounts"] if m["containerPath"] == SOCKET_DIR_NODE)
        for n in config["nodes"]
    ]
    assert sockets == [str(STATE / f"n{i}" / "sock") for i in range(3)]
    assert spec.node_names == ["demo-control-plane", "demo-control-plane2", "demo-control-plane3"]


@pytest.mark.parametrize("kube_version", ["1.34", "1.36"])
def test_kms_v1_and_verbosity_add_flags_in_the_same_shape(kube_version: str) -> None:
    spec = spec_for(resolve_node_image(kube_version), plugin_api="v1", apiserver_verbosity=6)
    _, patch = rendered(spec)
    args = args_of(patch)
    assert args["feature-gates"] == "KMSv1=true" and args["v"] == "6"
    encryption = yaml.safe_load(render_encryption_config(spec))
    assert encryption["resources"][0]["providers"][0]["kms"]["apiVersion"] == "v1"


def test_plugin_in_node_mounts_no_host_socket() -> None:
    config, patch = rendered(spec_for(resolve_node_image("1.37"), placement="node"))
    assert [m["containerPath"] for m in config["nodes"][0]["extraMounts"]] == [CONFIG_DIR_NODE]
    assert "kms-sandbox-socket" in {v["name"] for v in patch["apiServer"]["extraVolumes"]}


def test_encryption_configs_use_the_in_container_endpoint() -> None:
    spec = spec_for(resolve_node_image())
    config = yaml.safe_load(render_encryption_config(spec))
    assert config["kind"] == "EncryptionConfiguration"
    rule = config["resources"][0]
    assert rule["resources"] == ["secrets", "configmaps"]
    kms, identity = rule["providers"]
    assert kms["kms"] == {
        "apiVersion": "v2",
        "name": "kms-sandbox",
        "endpoint": f"unix://{SOCKET_FILE_NODE}",
        "timeout": "3s",
    }
    assert identity == {"identity": {}}
    bootstrap = yaml.safe_load(render_encryption_config(spec, bootstrap=True))
    assert bootstrap["resources"][0]["providers"] == [{"identity": {}}]


def test_plugin_static_pod_runs_the_plugin_with_its_sockets_in_the_node() -> None:
    pod = yaml.safe_load(render_plugin_pod(spec_for(resolve_node_image(), placement="node")))
    assert pod["kind"] == "Pod" and pod["metadata"]["namespace"] == "kube-system"
    assert pod["spec"]["hostNetwork"] is True
    (container,) = pod["spec"]["containers"]
    assert container["imagePullPolicy"] == "Never"  # loaded with kind load, never pulled
    command = container["command"]
    assert command[:3] == ["kms-sandbox", "plugin", "serve"]
    assert command[command.index("--listen") + 1] == f"unix://{SOCKET_FILE_NODE}"
    assert command[command.index("--control") + 1] == f"unix://{CONTROL_SOCKET_NODE}"
    assert not CONTROL_SOCKET_NODE.startswith(SOCKET_DIR_NODE)  # the apiserver never sees the control socket
    volumes = {v["name"]: v["hostPath"] for v in pod["spec"]["volumes"]}
    assert volumes["socket"] == {"path": SOCKET_DIR_NODE, "type": "DirectoryOrCreate"}


def test_rewrite_endpoints_maps_placeholders_and_our_host_sockets_only() -> None:
    text = (
        "a: unix:///tmp/x/n0/sock/kms.sock\nb: unix:///wrong/path.sock\n"
        "c: $PLUGIN_ENDPOINT\nd: $PLUGIN_ENDPOINT_2\n"
    )
    out = yaml.safe_load(rewrite_endpoints(text, ["/tmp/x/n0/sock/kms.sock"]))
    node = f"unix://{SOCKET_FILE_NODE}"
    assert out == {"a": node, "b": "unix:///wrong/path.sock", "c": node, "d": node}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad_Name"}, "cluster name 'Bad_Name' is not valid"),
        ({"control_planes": 4}, "--control-planes must be 1 or 3"),
        ({"state_dir": Path("/tmp/" + "x" * 100)}, "allow under 104: use a shorter state directory"),
    ],
)
def test_impossible_clusters_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"name": "demo", "image": resolve_node_image(), "state_dir": STATE}
    with pytest.raises(RenderError, match=message.replace("(", r"\(")):
        ClusterSpec(**{**base, **kwargs})


def test_missing_template_dir_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KMS_SANDBOX_KIND_CONFIG", str(tmp_path))
    with pytest.raises(RenderError, match=r"cluster\.yaml is missing"):
        render_kind_config(spec_for(resolve_node_image()))
