"""A fresh simulated apiserver writes the kube-system ConfigMaps a real v1.37.2 writes."""

from __future__ import annotations

from sandbox.sim.store import MemoryStore
from tests.sim.base64_plugin import Base64Plugin
from tests.sim.conftest import ApiFactory, v2_config

SYSTEM = (
    "/registry/configmaps/kube-system/extension-apiserver-authentication",
    "/registry/configmaps/kube-system/kube-apiserver-legacy-service-account-token-tracking",
)


async def test_system_config_maps_are_written_once_through_the_encrypting_write_path(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    store = MemoryStore()
    config = v2_config(b64.endpoint, resources="configmaps")
    first = await make_api(config, store=store)
    values = {key: store.get(key) for key in SYSTEM}
    for key, kv in values.items():
        assert kv is not None, key
        assert kv.value.startswith(b"k8s:enc:kms:v2:kms-provider:"), key  # encrypted like any other
    listed = await first.list("configmaps")
    assert listed.ok and set(listed.items) == {key.split("/configmaps/")[1] for key in SYSTEM}
    # A peer on the same etcd, and a restart, find them and leave them alone.
    await make_api(config, store=store, index=1)
    await first.restart()
    for key, kv in values.items():
        again = store.get(key)
        assert again is not None and kv is not None and again.mod_revision == kv.mod_revision, key


async def test_unencrypted_config_maps_are_stored_plain(b64: Base64Plugin, make_api: ApiFactory) -> None:
    api = await make_api(v2_config(b64.endpoint))  # secrets only
    for key in SYSTEM:
        kv = api.store.get(key)
        assert kv is not None and kv.value.startswith(b"k8s\x00"), key
