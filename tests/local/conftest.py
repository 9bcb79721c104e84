"""Fixtures for the local backend: real binaries from the cache, or a clear skip."""

from __future__ import annotations

import pytest

from sandbox.backends.local.binaries import DEFAULT_KUBE_VERSION, Binaries, find_binaries


@pytest.fixture(scope="session")
def local_binaries() -> Binaries:
    """The default release's etcd + kube-apiserver; skips (never builds: minutes) when absent."""
    found = find_binaries(DEFAULT_KUBE_VERSION)
    if found is None:
        pytest.skip(
            f"kube-apiserver/etcd {DEFAULT_KUBE_VERSION} not found in $KUBEBUILDER_ASSETS or the cache: "
            "run `kms-sandbox setup local` first"
        )
    return found
