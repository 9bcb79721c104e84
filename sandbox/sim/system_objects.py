"""The objects a fresh kube-apiserver writes into an empty etcd by itself.

Seen on a real v1.37.2 (`etcd_keys("/registry/")` right after start): besides RBAC, flow
control, namespaces and the like, which the simulator does not serve, it writes two ConfigMaps
in `kube-system`. They matter to KMS lessons: under an encrypted `configmaps` resource they are
encrypted like any other (KMS v1: one Encrypt each at first start), the watch cache decodes
them after every restart (KMS v1: one Decrypt each), and they show up in ConfigMap lists.

The simulator writes them through the apiserver's normal write path when they are missing, as
the upstream controllers do (create if absent; an unchanged object is not rewritten).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.sim.apiserver import SimApiserver

NAMESPACE = "kube-system"
AUTHENTICATION = "extension-apiserver-authentication"
TOKEN_TRACKING = "kube-apiserver-legacy-service-account-token-tracking"


def system_config_maps(now: float) -> dict[str, Mapping[str, bytes]]:
    """Name -> data of the ConfigMaps a fresh apiserver creates (content is illustrative)."""
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    return {
        AUTHENTICATION: {
            "client-ca-file": b"-----BEGIN CERTIFICATE-----\n(the cluster CA)\n-----END CERTIFICATE-----\n"
        },
        TOKEN_TRACKING: {"since": day.encode()},
    }


async def write_system_objects(apiserver: SimApiserver) -> list[str]:
    """Creates the missing system ConfigMaps; returns the failures (e.g. the KMS was down)."""
    failures = []
    for name, data in system_config_maps(apiserver.clock.now()).items():
        if apiserver.store.get(apiserver.key_for("configmaps", NAMESPACE, name)) is not None:
            continue
        response = await apiserver.create("configmaps", NAMESPACE, name, data)
        if not response.ok:
            failures.append(f"{NAMESPACE}/{name}: {response.message}")
    return failures
