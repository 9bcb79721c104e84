"""Which kindest/node image to run, and which kubeadm config API that image's kind expects.

kind supports a node image only with the kind release that built it (the release notes list
them with digests; a bare tag on Docker Hub may point at a build for another release). So the
table pins `tag@sha256` where the digest was read from the release notes, and names the kind
release. The kubeadm API matters because the encryption flags go in through a kubeadm patch:
kind v0.32.0+ renders kubeadm `v1beta4` (list-style `extraArgs`) for Kubernetes 1.36.0+ and
`v1beta3` (map-style) below that (kubernetes-sigs/kind PR #4173). A patch in the wrong shape,
or pinned to the wrong version, is dropped silently, which is why the cluster is verified
after creation as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

KubeadmApi = Literal["v1beta3", "v1beta4"]

KIND_IMAGE_REPOSITORY = "kindest/node"

V1BETA4_FROM: tuple[int, int] = (1, 36)
"""kind renders kubeadm v1beta4 for node images at this Kubernetes minor and later."""

KIND_MIN_FOR_V1BETA4: tuple[int, int, int] = (0, 32, 0)
"""The first kind release that knows v1beta4 (and can `kind load` into 1.36+ images)."""

KIND_MIN: tuple[int, int, int] = (0, 20, 0)
"""Oldest kind the sandbox accepts (cgroupns=private nodes; Docker 20.10+)."""


class ImageError(ValueError):
    """A node image or Kubernetes version the sandbox cannot use; the message says what is expected."""


@dataclass(frozen=True)
class NodeImage:
    """One supported kindest/node image."""

    version: str
    """Kubernetes release inside, e.g. "v1.36.4"."""
    digest: str = ""
    """sha256 digest from the kind release notes ("" when not recorded: pulled by tag)."""
    kind_release: str = ""
    """kind release whose notes list this image, e.g. "v0.33.0"."""

    @property
    def minor(self) -> tuple[int, int]:
        major, minor, _ = parse_version(self.version)
        return (major, minor)

    @property
    def reference(self) -> str:
        """What `kind create cluster --image` gets: tag, plus the digest when known."""
        ref = f"{KIND_IMAGE_REPOSITORY}:{self.version}"
        return f"{ref}@sha256:{self.digest}" if self.digest else ref

    @property
    def kubeadm_api(self) -> KubeadmApi:
        return kubeadm_api_for(self.version)


# Supported lines, newest first. Digests are copied from the kind release notes named beside them.
NODE_IMAGES: tuple[NodeImage, ...] = (
    NodeImage("v1.37.0", "a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5", "v0.33.0"),
    NodeImage("v1.36.4", "099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed", "v0.33.0"),
    NodeImage("v1.35.8", "07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0", "v0.33.0"),
    NodeImage("v1.34.11", "44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d", "v0.33.0"),
    NodeImage("v1.33.1", "050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f", "v0.29.0"),
    NodeImage("v1.32.0", "c48c62eac5da28cdadcf560d1d8616cfa6783b58f0d94cf63ad1bf49600cb027", "v0.26.0"),
    NodeImage("v1.31.12", "0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2", "v0.30.0"),
    NodeImage("v1.30.6", "b6d08db72079ba5ae1f4a88a09025c0a904af3b52387643c285442afb05ab994", "v0.25.0"),
    NodeImage("v1.29.14", "8703bd94ee24e51b778d5556ae310c6c0fa67d761fae6379c8e0bb480e6fea29", "v0.27.0"),
)

DEFAULT_NODE_IMAGE: NodeImage = NODE_IMAGES[0]
"""kind v0.33.0's own default; the same minor as the local backend's default release."""

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$")
_IMAGE_TAG_RE = re.compile(r":(v?\d+\.\d+(?:\.\d+)?[^@/]*)(?:@sha256:([0-9a-f]{64}))?$")


def parse_version(text: str) -> tuple[int, int, int]:
    """ "v1.36.4", "1.36" or "v1.36.0-rc.1" → (1, 36, 4 / 0 / 0). Raises ImageError otherwise."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ImageError(f"{text!r} is not a Kubernetes version: expected e.g. 1.36 or v1.36.4")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def kubeadm_api_for(kube_version: str) -> KubeadmApi:
    """The kubeadm config API kind uses for a node image at `kube_version`."""
    major, minor, _ = parse_version(kube_version)
    return "v1beta4" if (major, minor) >= V1BETA4_FROM else "v1beta3"


def image_for_version(kube_version: str) -> NodeImage:
    """The table's image for a minor ("1.34") or an exact release ("v1.34.11")."""
    major, minor, patch = parse_version(kube_version)
    match = _VERSION_RE.match(kube_version.strip())
    exact = match is not None and match.group(3) is not None
    for image in NODE_IMAGES:
        if image.minor != (major, minor):
            continue
        if exact and parse_version(image.version)[2] != patch:
            # An exact release the table does not pin: pull it by tag and let kind decide.
            return NodeImage(f"v{major}.{minor}.{patch}")
        return image
    supported = ", ".join(f"{i.minor[0]}.{i.minor[1]}" for i in sorted(NODE_IMAGES, key=lambda i: i.minor))
    raise ImageError(f"no kind node image for Kubernetes {major}.{minor}: supported minors are {supported}")


def image_from_reference(reference: str) -> NodeImage:
    """A user-given `--node-image` such as kindest/node:v1.35.8 or my.registry/node:v1.36.0@sha256:..."""
    match = _IMAGE_TAG_RE.search(reference.strip())
    if match is None:
        raise ImageError(
            f"cannot tell the Kubernetes version of node image {reference!r}: "
            "expected a tag such as kindest/node:v1.36.4"
        )
    version = match.group(1)
    parse_version(version)
    repository = reference.strip()[: match.start()]
    table = {i.version: i for i in NODE_IMAGES}
    if repository == KIND_IMAGE_REPOSITORY and match.group(2) is None and version in table:
        return table[version]
    return _CustomImage(
        version if version.startswith("v") else f"v{version}", match.group(2) or "", "", reference
    )


@dataclass(frozen=True)
class _CustomImage(NodeImage):
    """An image named by the user: its reference is kept verbatim."""

    custom_reference: str = ""

    @property
    def reference(self) -> str:
        return self.custom_reference


def resolve_node_image(kube_version: str = "", node_image: str = "") -> NodeImage:
    """`--node-image` wins, then `--kube-version`, then the default. Both given must agree."""
    if node_image:
        image = image_from_reference(node_image)
        if kube_version and parse_version(kube_version)[:2] != image.minor:
            raise ImageError(
                f"--node-image {node_image} runs Kubernetes {image.version}, "
                f"but --kube-version asks for {kube_version}: give one or make them agree"
            )
        return image
    if kube_version:
        return image_for_version(kube_version)
    return DEFAULT_NODE_IMAGE


def parse_kind_version(output: str) -> tuple[int, int, int]:
    """`kind version` prints e.g. "kind v0.33.0 go1.25.1 linux/amd64"."""
    match = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", output)
    if match is None:
        raise ImageError(f"cannot read the kind version from {output.strip()!r}")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def kind_release_problem(kind_version: tuple[int, int, int], image: NodeImage) -> str:
    """Why this kind cannot run this image ("" when it can)."""
    shown = "v" + ".".join(map(str, kind_version))
    if kind_version < KIND_MIN:
        return f"kind {shown} is too old: install kind v0.33.0 (at least v0.20.0)"
    if image.kubeadm_api == "v1beta4" and kind_version < KIND_MIN_FOR_V1BETA4:
        return (
            f"node image {image.version} needs kind v0.32.0 or newer (kubeadm v1beta4), "
            f"found kind {shown}: upgrade kind or pick --kube-version 1.35"
        )
    return ""
