"""Which Kubernetes release the project treats as "newest", in one pure place.

The `local` backend builds this release from the Go module proxy, and the simulator's default
release profile is its minor, so a run that names no version means the same release on every
backend. Bump it here (and nowhere else) when a newer release is pinned.
"""

from __future__ import annotations

from typing import Final

NEWEST_KUBE_VERSION: Final = "1.37.2"
"""Newest stable k8s.io/kubernetes on the Go module proxy when it was pinned (no leading "v")."""

NEWEST_KUBE_MINOR: Final = int(NEWEST_KUBE_VERSION.split(".")[1])
