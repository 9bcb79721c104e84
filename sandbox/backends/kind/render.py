"""Render the kind cluster config, kubeadm patch, EncryptionConfiguration and plugin pod.

The YAML lives in `kind-config/` as templates with `${name}` placeholders, so a workshop
facilitator can read and tweak exactly what the tool feeds kind. Rendering is pure: it
substitutes, parses, composes (one control-plane entry per apiserver, one kubeadm patch in the
shape the node image's kubeadm API expects) and dumps. Nothing here touches Docker.

Paths come in two views: where things are on the host (`ClusterSpec.host_*`) and where they
are inside the node and the apiserver container (the `*_NODE` constants; kubeadm mounts the
node path at the same path in the apiserver container, so the two in-node views agree).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sandbox import __version__
from sandbox.backends.kind.images import NodeImage

CONFIG_DIR_NODE = "/etc/kubernetes/kms-sandbox"
CONFIG_FILE_NAME = "encryption-config.yaml"
CONFIG_FILE_NODE = f"{CONFIG_DIR_NODE}/{CONFIG_FILE_NAME}"
SOCKET_DIR_NODE = "/opt/kms-sandbox/socket"
SOCKET_NAME = "kms.sock"
SOCKET_FILE_NODE = f"{SOCKET_DIR_NODE}/{SOCKET_NAME}"
PLUGIN_STATE_NODE = "/var/lib/kms-sandbox/plugin"
PLUGIN_MANIFEST_NODE = "/etc/kubernetes/manifests/kms-sandbox-plugin.yaml"
PLUGIN_MANIFEST_PARKED = "/etc/kubernetes/kms-sandbox-parked/kms-sandbox-plugin.yaml"
"""Where a stopped in-node plugin's manifest waits: outside manifests/, which kubelet runs."""
CONTROL_SOCKET_NODE = f"{PLUGIN_STATE_NODE}/control.sock"
"""In-node plugins: the control socket, outside the directory the apiserver mounts."""
PROVIDER_NAME = "kms-sandbox"
MAX_SOCKET_PATH = 104
"""sun_path is 104 bytes on macOS and 108 on Linux; stay under the smaller."""

PluginPlacement = Literal["host", "node"]
_CLUSTER_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


class _Block(str):
    """A multi-line string dumped as a YAML literal block (`|`), so patches stay readable."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Block, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
)


class RenderError(ValueError):
    """The requested cluster cannot be rendered; the message says what to change."""


def default_cluster_name(control_planes: int) -> str:
    """One default cluster per shape, so an HA lesson never lands on a single-node cluster."""
    return {1: "kms-sandbox", 3: "kms-sandbox-ha"}.get(control_planes, f"kms-sandbox-{control_planes}cp")


def default_state_dir(name: str) -> Path:
    """Per-cluster host state (sockets, keyring, configs): $XDG_STATE_HOME/kms-sandbox/kind/<name>."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kms-sandbox" / "kind" / name


def template_dir() -> Path:
    """`kind-config/` at the repository root (override with $KMS_SANDBOX_KIND_CONFIG)."""
    override = os.environ.get("KMS_SANDBOX_KIND_CONFIG")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "kind-config"


def load_template(name: str) -> string.Template:
    path = template_dir() / name
    try:
        return string.Template(path.read_text())
    except OSError as exc:
        raise RenderError(
            f"kind template {path} is missing ({exc.strerror}): reinstall kms-sandbox"
        ) from None


def render_template(name: str, values: Mapping[str, object]) -> str:
    try:
        return load_template(name).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise RenderError(
            f"kind template {name} uses ${{{exc.args[0]}}}, which the renderer does not set"
        ) from None


def validate_cluster_name(name: str) -> str:
    if not _CLUSTER_NAME_RE.match(name) or len(name) > 50:
        raise RenderError(
            f"cluster name {name!r} is not valid: use lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 50 characters"
        )
    return name


def control_plane_node_names(cluster: str, count: int) -> list[str]:
    """kind's names: <cluster>-control-plane, <cluster>-control-plane2, <cluster>-control-plane3."""
    return [f"{cluster}-control-plane" + (str(i + 1) if i else "") for i in range(count)]


@dataclass(frozen=True)
class ClusterSpec:
    """Everything that shapes a kms-sandbox kind cluster."""

    name: str
    image: NodeImage
    state_dir: Path
    control_planes: int = 1
    placement: PluginPlacement = "host"
    plugin_api: str = "v2"
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    apiserver_verbosity: int = 0
    """0 leaves kind's default; 6 logs each KMS call's uid with the object it was for."""
    plugin_image: str = f"kms-sandbox-plugin:{__version__}"

    def __post_init__(self) -> None:
        validate_cluster_name(self.name)
        if self.control_planes not in (1, 2, 3):
            # 2 serves two-apiserver lessons; the CLI offers 1 or 3 (an etcd quorum that survives a loss).
            raise RenderError(f"--control-planes must be 1 or 3, got {self.control_planes}")
        if self.placement == "host":
            for index in range(self.control_planes):
                socket_path = self.host_socket_dir(index) / SOCKET_NAME
                if len(str(socket_path)) >= MAX_SOCKET_PATH:
                    raise RenderError(
                        f"plugin socket path {socket_path} is {len(str(socket_path))} bytes; Unix sockets "
                        f"allow under {MAX_SOCKET_PATH}: use a shorter state directory"
                    )

    @property
    def node_names(self) -> list[str]:
        return control_plane_node_names(self.name, self.control_planes)

    @property
    def kube_context(self) -> str:
        return f"kind-{self.name}"

    @property
    def host_config_dir(self) -> Path:
        return self.state_dir / "encryption"

    @property
    def host_config_file(self) -> Path:
        return self.host_config_dir / CONFIG_FILE_NAME

    @property
    def host_kind_config(self) -> Path:
        return self.state_dir / "kind-config.yaml"

    @property
    def host_kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def host_node_dir(self, index: int) -> Path:
        return self.state_dir / f"n{index}"

    def host_socket_dir(self, index: int) -> Path:
        """One socket directory per node: each apiserver gets its own plugin instance."""
        return self.host_node_dir(index) / "sock"

    def host_socket_file(self, index: int) -> Path:
        return self.host_socket_dir(index) / SOCKET_NAME

    def host_control_socket(self, index: int) -> Path:
        return self.host_node_dir(index) / "control.sock"

    @property
    def kms_api_version(self) -> str:
        return "v1" if self.plugin_api == "v1" else "v2"

    @property
    def effective_feature_gates(self) -> dict[str, bool]:
        gates = dict(self.feature_gates)
        if "v1" in self.plugin_api.split(","):
            gates.setdefault("KMSv1", True)  # KMS v1 is off by default since 1.29
        return gates


def _values(spec: ClusterSpec, index: int = 0) -> dict[str, object]:
    return {
        "cluster_name": spec.name,
        "config_dir_host": spec.host_config_dir,
        "config_dir_node": CONFIG_DIR_NODE,
        "config_file_node": CONFIG_FILE_NODE,
        "socket_dir_host": spec.host_socket_dir(index),
        "socket_dir_node": SOCKET_DIR_NODE,
        "socket_file_node": SOCKET_FILE_NODE,
        "plugin_state_node": PLUGIN_STATE_NODE,
        "plugin_image": spec.plugin_image,
        "plugin_api": spec.plugin_api,
        "control_socket_node": CONTROL_SOCKET_NODE,
        "kms_api_version": spec.kms_api_version,
        "provider_name": PROVIDER_NAME,
    }


def _extra_args(spec: ClusterSpec) -> dict[str, str]:
    """Flags beyond the two the patch templates always carry."""
    args: dict[str, str] = {}
    gates = spec.effective_feature_gates
    if gates:
        args["feature-gates"] = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(gates.items()))
    if spec.apiserver_verbosity:
        args["v"] = str(spec.apiserver_verbosity)
    return args


def kubeadm_patch(spec: ClusterSpec) -> dict[str, Any]:
    """The ClusterConfiguration patch, in the node image's kubeadm API shape."""
    api = spec.image.kubeadm_api
    patch: dict[str, Any] = yaml.safe_load(render_template(f"kubeadm-patch-{api}.yaml", _values(spec)))
    extra_args = patch["apiServer"]["extraArgs"]
    for name, value in _extra_args(spec).items():
        if api == "v1beta4":
            extra_args.append({"name": name, "value": value})
        else:
            extra_args[name] = value
    return patch


def control_plane_node(spec: ClusterSpec, index: int) -> dict[str, Any]:
    node: dict[str, Any] = yaml.safe_load(render_template("control-plane-node.yaml", _values(spec, index)))
    if spec.placement == "node":
        # The plugin lives in the node and creates its socket there: nothing to share from the host.
        node["extraMounts"] = [m for m in node["extraMounts"] if m["containerPath"] != SOCKET_DIR_NODE]
    return node


def kind_config(spec: ClusterSpec) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(render_template("cluster.yaml", _values(spec)))
    config["nodes"] = [control_plane_node(spec, i) for i in range(spec.control_planes)]
    # Text, not a mapping: kind expects each patch as a YAML document string.
    config["kubeadmConfigPatches"] = [_Block(yaml.safe_dump(kubeadm_patch(spec), sort_keys=False))]
    return config


def render_kind_config(spec: ClusterSpec) -> str:
    """The YAML `kind create cluster --config` gets (and `kms-sandbox cluster config` prints)."""
    header = (
        f"# kind cluster for kms-sandbox {__version__}: node image {spec.image.reference}, "
        f"kubeadm {spec.image.kubeadm_api}, {spec.control_planes} control plane(s), "
        f"plugin on the {spec.placement}\n"
    )
    return header + yaml.dump(kind_config(spec), Dumper=_Dumper, sort_keys=False, width=120)


def render_encryption_config(spec: ClusterSpec, bootstrap: bool = False) -> str:
    """The default EncryptionConfiguration; `bootstrap` gives the identity-only starting point."""
    name = "encryption-config-identity.yaml" if bootstrap else "encryption-config.yaml"
    return render_template(name, _values(spec))


def render_plugin_pod(spec: ClusterSpec) -> str:
    """The static pod that runs the plugin inside a node (placement "node")."""
    return render_template("plugin-static-pod.yaml", _values(spec))


def rewrite_endpoints(config_yaml: str, host_socket_paths: list[str]) -> str:
    """Point KMS endpoints at the in-node socket path: placeholders and our host-side sockets.

    Scenarios write `$PLUGIN_ENDPOINT` (the apiserver's own plugin) or `$PLUGIN_ENDPOINT_<n>`
    (plugin n, which on kind is the plugin of node n): every node sees its own plugin at the
    same in-container path, so all of them become SOCKET_FILE_NODE.

    Scenarios write configs with the socket path they know; inside the apiserver container the
    plugin socket is at SOCKET_FILE_NODE. Other endpoints are left alone on purpose: a scenario
    that sets a wrong endpoint wants to see what a wrong endpoint does.
    """
    out = re.sub(r"\$PLUGIN_ENDPOINT(_\d+)?\b", f"unix://{SOCKET_FILE_NODE}", config_yaml)
    for host_path in sorted(host_socket_paths, key=len, reverse=True):
        out = out.replace(f"unix://{host_path}", f"unix://{SOCKET_FILE_NODE}")
    return out
