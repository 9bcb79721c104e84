"""The node image table, version parsing and the kubeadm API each image gets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.backends.kind.images import (
    DEFAULT_NODE_IMAGE,
    NODE_IMAGES,
    ImageError,
    kind_release_problem,
    kubeadm_api_for,
    parse_kind_version,
    parse_version,
    resolve_node_image,
)


def test_table_covers_every_minor_from_1_29_once_with_pinned_digests() -> None:
    minors = [image.minor for image in NODE_IMAGES]
    assert sorted(minors) == [(1, m) for m in range(29, 38)]
    for image in NODE_IMAGES:
        assert len(image.digest) == 64 and int(image.digest, 16) >= 0
        assert image.reference == f"kindest/node:{image.version}@sha256:{image.digest}"
        assert image.kind_release.startswith("v0.")


def test_default_is_the_newest_line() -> None:
    assert DEFAULT_NODE_IMAGE.minor == max(image.minor for image in NODE_IMAGES)
    assert resolve_node_image() == DEFAULT_NODE_IMAGE


@pytest.mark.parametrize(
    ("version", "api"),
    [
        ("1.29", "v1beta3"),
        ("v1.35.8", "v1beta3"),
        ("1.36", "v1beta4"),
        ("v1.37.0", "v1beta4"),
        ("2.0", "v1beta4"),
    ],
)
def test_kubeadm_api_switches_at_1_36(version: str, api: str) -> None:
    assert kubeadm_api_for(version) == api


def test_minor_picks_the_table_image_and_exact_release_outside_the_table_goes_by_tag() -> None:
    assert resolve_node_image("1.34").version == "v1.34.11"
    assert resolve_node_image("v1.34.11").digest
    off_table = resolve_node_image("1.34.2")
    assert off_table.reference == "kindest/node:v1.34.2" and off_table.digest == ""


def test_node_image_reference_is_kept_verbatim_and_its_version_read() -> None:
    ref = "registry.local:5000/kindest/node:v1.36.0@sha256:" + "ab" * 32
    image = resolve_node_image(node_image=ref)
    assert image.reference == ref
    assert image.version == "v1.36.0" and image.kubeadm_api == "v1beta4"
    assert resolve_node_image(node_image="kindest/node:v1.35.8") == resolve_node_image("1.35")


@pytest.mark.parametrize(
    ("kube_version", "node_image", "message"),
    [
        ("1.20", "", "no kind node image for Kubernetes 1.20: supported minors are 1.29"),
        ("banana", "", "'banana' is not a Kubernetes version: expected e.g. 1.36 or v1.36.4"),
        ("", "kindest/node:latest", "cannot tell the Kubernetes version of node image"),
        ("1.34", "kindest/node:v1.35.8", "runs Kubernetes v1.35.8, but --kube-version asks for 1.34"),
    ],
)
def test_bad_versions_and_images_say_what_is_expected(
    kube_version: str, node_image: str, message: str
) -> None:
    with pytest.raises(ImageError, match=re.escape(message)):
        resolve_node_image(kube_version, node_image)


def test_kind_release_rules() -> None:
    assert parse_kind_version("kind v0.33.0 go1.25.1 linux/amd64") == (0, 33, 0)
    new, old = resolve_node_image("1.37"), resolve_node_image("1.35")
    assert kind_release_problem((0, 33, 0), new) == ""
    assert kind_release_problem((0, 31, 0), old) == ""
    assert "needs kind v0.32.0 or newer" in kind_release_problem((0, 31, 0), new)
    assert "too old" in kind_release_problem((0, 19, 0), old)


@given(st.integers(0, 99), st.integers(0, 999), st.integers(0, 999), st.sampled_from(["", "v"]))
def test_parse_version_reads_back_what_was_written(major: int, minor: int, patch: int, prefix: str) -> None:
    assert parse_version(f"{prefix}{major}.{minor}.{patch}") == (major, minor, patch)
    assert parse_version(f"{prefix}{major}.{minor}") == (major, minor, 0)
    assert parse_version(f"{prefix}{major}.{minor}.{patch}-rc.1") == (major, minor, patch)
