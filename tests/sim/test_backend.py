"""SimBackend with the bundled plugin as a real subprocess (INT-2, INT-3, INT-5, INT-7, SIM-*, PP-6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sandbox.backends.base import BackendOptions
from sandbox.backends.sim import SimBackend
from sandbox.core.events import WatchCacheListed
from sandbox.core.hashing import key_id_hash
from sandbox.core.kmsv2_format import decode_value
from sandbox.core.versions import NEWEST_KUBE_MINOR
from tests.sim.conftest import corrupt

KEY_DISABLED = "failed precondition - key disabled"


@pytest.fixture
async def sim() -> AsyncIterator[SimBackend]:
    backend = SimBackend(BackendOptions())
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


async def plugin_calls(backend: SimBackend, method: str) -> int:
    """Calls the plugin itself counted (its control API), all codes."""
    state = await backend.control(0).get_state()
    return sum(n for (m, _code), n in state.counters.items() if m == method)


async def test_INT_2_metrics_after_create_and_get_show_no_kms_calls(sim: SimBackend) -> None:
    sim.reset_metrics()
    assert (await sim.create("secrets", "default", "test-secret", {"api_key": b"086a7ffc"})).code == 201
    assert (await sim.get("secrets", "default", "test-secret")).data == {"api_key": b"086a7ffc"}
    text = await sim.metrics()
    envelope = sorted(line for line in text.splitlines() if line.startswith("apiserver_envelope_"))
    key_hash = key_id_hash((await sim.control(0).get_state()).current_key_id)
    server_hash = key_id_hash("sim-apiserver-0")
    labels = f'apiserver_id_hash="{server_hash}",key_id_hash="{key_hash}",provider_name="kms-provider"'
    assert 'apiserver_envelope_encryption_dek_source_cache_size{provider_name="kms-provider"} 1' in envelope
    total = "apiserver_envelope_encryption_key_id_hash_total"
    assert f'{total}{{{labels},transformation_type="from_storage"}} 2' in envelope
    assert f'{total}{{{labels},transformation_type="to_storage"}} 1' in envelope
    assert not [line for line in envelope if "kms_operations_latency" in line or "status_last" in line]
    assert len(envelope) == 5  # the two totals, the two last-timestamps and the cache size
    versions = sim.versions()  # the default release is the local backend's newest
    assert versions["kubernetes"] == f"1.{NEWEST_KUBE_MINOR}"
    assert ("release_note" in versions) == (NEWEST_KUBE_MINOR > 36)


async def test_INT_3_rotation_staleness_outage_and_expiry(sim: SimBackend) -> None:
    control = sim.control(0)
    created = await sim.create("secrets", "default", "a", {"x": b"1"})
    assert (await sim.update("secrets", "default", "a")).resource_version == created.resource_version
    new_key = await control.rotate()
    changes = set()
    for _ in range(60):  # a no-op update every second for up to a minute
        await sim.advance(1)
        changes.add((await sim.update("secrets", "default", "a")).resource_version)
    assert len(changes - {created.resource_version}) == 1  # the RV changed exactly once
    rv = (await sim.update("secrets", "default", "a")).resource_version
    assert (await sim.update("secrets", "default", "a")).resource_version == rv
    await control.add_fault("*", code="FAILED_PRECONDITION", message=KEY_DISABLED)
    await sim.advance(60)
    health = await sim.health("/healthz/kms-providers")
    assert health.code == 500 and f"rpc error: code = FailedPrecondition desc = {KEY_DISABLED}" in health.body
    assert (await sim.create("secrets", "default", "b", {"x": b"1"})).ok  # still inside the 3-minute window
    await sim.advance(300)
    failed = await sim.create("secrets", "default", "c", {"x": b"1"})
    expired = f'encryptedDEKSource with keyID hash "{key_id_hash(new_key)}" expired at 2'
    assert failed.code == 500 and expired in failed.message
    assert (await sim.update("secrets", "default", "b")).ok  # reads never block on expiry
    await control.clear_faults()
    await sim.advance(10)  # the 10 s failure poll recovers
    assert (await sim.create("secrets", "default", "c", {"x": b"1"})).ok
    value = await sim.etcd_get("/registry/secrets/default/c")
    assert value is not None and decode_value(value)[1].key_id == new_key


async def test_INT_5_aggregated_health_of_two_providers(short_tmp: object) -> None:
    config = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: provider-1, endpoint: $PLUGIN_ENDPOINT_0}
      - kms: {apiVersion: v2, name: provider-2, endpoint: $PLUGIN_ENDPOINT_1}
"""
    sim = SimBackend(BackendOptions(plugins=2, encryption_config=config))
    async with sim:
        assert (await sim.health()).body == "ok"
        wrapped = "failed to perform status section of the healthz check for KMS Provider"
        raw = f"rpc error: code = FailedPrecondition desc = {KEY_DISABLED}"
        await sim.control(0).add_fault("*", code="FAILED_PRECONDITION", message=KEY_DISABLED)
        await sim.advance(21)
        first = await sim.health()
        assert first.body == f"internal server error: kms-provider-0: {wrapped} provider-1, error: {raw}\n"
        cached = await sim.health()
        assert cached.body == f"internal server error: kms-provider-0: {raw}\n"  # the INT-5 quirk
        await sim.control(0).clear_faults()
        await sim.control(1).add_fault("*", code="FAILED_PRECONDITION", message=KEY_DISABLED)
        await sim.advance(21)
        await sim.health()
        assert (await sim.health()).body == f"internal server error: kms-provider-1: {raw}\n"
        await sim.control(0).add_fault("*", code="FAILED_PRECONDITION", message=KEY_DISABLED)
        await sim.advance(21)
        both = await sim.health()
        assert both.body == (
            f"internal server error: [kms-provider-0: {wrapped} provider-1, error: {raw}, "
            f"kms-provider-1: {wrapped} provider-2, error: {raw}]\n"
        )
        readyz = await sim.health("/readyz")
        assert readyz.code == 500 and "[-]kms-providers failed: reason withheld\n" in readyz.body
        assert (await sim.health("/livez")).body == "ok"  # no KMS on livez since 1.29
        assert (await sim.health("/livez/kms-providers")).body == "404 page not found\n"


async def test_INT_7_SIM_3_restart_costs_one_encrypt_and_one_decrypt(sim: SimBackend) -> None:
    await sim.create("secrets", "default", "a", {"x": b"1"})
    await sim.create("secrets", "default", "b", {"x": b"2"})
    encrypts, decrypts = await plugin_calls(sim, "Encrypt"), await plugin_calls(sim, "Decrypt")
    await sim.restart_apiserver()
    assert await plugin_calls(sim, "Encrypt") == encrypts + 1  # a new seed, same key_id
    # The watch cache's initial LIST decoded both secrets. 1.37 decodes up to 10 objects at once
    # (ConcurrentWatchObjectDecode) and the DEK cache has no single-flight: both miss together.
    assert await plugin_calls(sim, "Decrypt") == decrypts + 2
    listed = [e for e in sim.events.history() if isinstance(e, WatchCacheListed)]
    assert [(e.resource, e.ok, e.objects) for e in listed[-2:]] == [
        ("secrets", True, 2),
        ("configmaps", True, 2),  # the two kube-system ConfigMaps a fresh apiserver writes
    ]
    assert (await sim.get("secrets", "default", "a")).data == {"x": b"1"}
    assert (await sim.get("secrets", "default", "b")).data == {"x": b"2"}
    assert await plugin_calls(sim, "Decrypt") == decrypts + 2  # GETs hit the warm cache
    assert (await sim.migrate()).rewritten == 0  # same key_id and type: not stale
    await asyncio.sleep(0.2)  # let the relayed plugin events arrive
    methods = [e.method for e in sim.events.history(["plugin.call"])]  # type: ignore[attr-defined]
    assert methods.count("Decrypt") == 2 and methods.count("Encrypt") == 2


async def test_SIM_1_plugin_down_at_start_then_recovering(sim: SimBackend) -> None:
    await sim.create("secrets", "default", "a", {"x": b"1"})
    await sim.stop_plugin()
    await sim.restart_apiserver()
    nil = "got unexpected nil transformer"
    assert (await sim.get("secrets", "default", "a")).message == corrupt("/secrets/default/a", nil)
    assert (
        await sim.create("secrets", "default", "b", {"x": b"1"})
    ).message == f"Internal error occurred: {nil}"
    health = await sim.health()
    # grpc-go names the failed dial (a stopped plugin removes its socket file).
    assert (
        "rpc error: code = DeadlineExceeded desc = latest balancer error: connection error: " in health.body
    )
    assert 'connect: no such file or directory"' in health.body
    await sim.start_plugin()
    await sim.advance(10)
    assert (await sim.get("secrets", "default", "a")).ok
    assert (await sim.health()).body == "ok"


async def test_HA_each_apiserver_has_its_own_seed_and_cold_reads_decrypt() -> None:
    sim = SimBackend(BackendOptions(apiservers=2, plugins=2))
    async with sim:
        await sim.create("secrets", "default", "a", {"x": b"1"}, apiserver=0)
        await sim.create("secrets", "default", "b", {"x": b"2"}, apiserver=1)
        seeds = set()
        for name in ("a", "b"):
            value = await sim.etcd_get(f"/registry/secrets/default/{name}")
            assert value is not None
            seeds.add(decode_value(value)[1].encrypted_dek_source)
        assert len(seeds) == 2
        # The watch cache of apiserver 1 already decoded "a" (one Decrypt at its own plugin).
        state = await sim.control(1).get_state()
        assert sum(n for (m, _), n in state.counters.items() if m == "Decrypt") == 1
        assert (await sim.get("secrets", "default", "a", apiserver=1)).data == {"x": b"1"}


async def test_KMS_v1_costs_one_decrypt_per_object_after_restart() -> None:
    config = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {name: old-kms, endpoint: $PLUGIN_ENDPOINT, cachesize: 1000}
      - identity: {}
"""
    options = BackendOptions(plugin_api="v1", encryption_config=config, feature_gates={"KMSv1": True})
    sim = SimBackend(options)
    async with sim:
        for i in range(5):
            assert (await sim.create("secrets", "default", f"s{i}", {"x": b"1"})).ok
        value = await sim.etcd_get("/registry/secrets/default/s0")
        assert value is not None and value.startswith(b"k8s:enc:kms:v1:old-kms:")
        assert (await sim.health("/healthz/kms-providers")).body == "ok"  # reload on: merged check
        before = await plugin_calls(sim, "Decrypt")
        await sim.restart_apiserver()
        # The initial LIST: one per object; and the start's own /readyz pings the v1 plugin once.
        assert await plugin_calls(sim, "Decrypt") == before + 5 + 1
        listed = await sim.list("secrets")
        assert listed.ok and len(listed.items) == 5
        assert await plugin_calls(sim, "Decrypt") == before + 5 + 1


async def test_reload_switches_provider_after_the_hash_poll_and_migration_rewrites(sim: SimBackend) -> None:
    await sim.create("secrets", "default", "a", {"x": b"1"})
    await sim.set_encryption_config(
        """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: new-kms, endpoint: $PLUGIN_ENDPOINT}
      - kms: {apiVersion: v2, name: kms-provider, endpoint: $PLUGIN_ENDPOINT}
"""
    )
    await sim.create("secrets", "default", "b", {"x": b"1"})
    old_prefix = b"k8s:enc:kms:v2:kms-provider:"
    assert (await sim.etcd_get("/registry/secrets/default/b") or b"").startswith(old_prefix)
    await sim.advance(60)  # 1.29+: the file hash is polled every minute
    await sim.create("secrets", "default", "c", {"x": b"1"})
    assert (await sim.etcd_get("/registry/secrets/default/c") or b"").startswith(b"k8s:enc:kms:v2:new-kms:")
    result = await sim.migrate()
    assert (result.total, result.rewritten) == (3, 2)  # a and b were read through the second provider
    text = await sim.metrics()
    assert 'apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash="' in text
    assert 'status="success"} 1' in text


async def test_invalid_reload_keeps_the_old_config_and_counts_a_failure(sim: SimBackend) -> None:
    await sim.set_encryption_config("kind: Nonsense\n")
    await sim.advance(60)
    assert 'status="failure"} 1' in await sim.metrics()
    assert (await sim.create("secrets", "default", "a", {"x": b"1"})).ok


async def test_INT_3_step_9_flipping_kdf_on_1_28_rewrites_on_a_no_op_update() -> None:
    sim = SimBackend(BackendOptions(kube_version="1.28"))  # KMSv2KDF beta, off by default
    async with sim:
        created = await sim.create("secrets", "default", "a", {"x": b"1"})
        assert (await sim.update("secrets", "default", "a")).resource_version == created.resource_version
        first = await sim.etcd_get("/registry/secrets/default/a")
        assert first is not None and decode_value(first)[1].dek_source_type_name == "AES_GCM_KEY"
        rv = created.resource_version
        for kdf, dek_type in ((True, "HKDF_SHA256_XNONCE_AES_GCM_SEED"), (False, "AES_GCM_KEY")):
            sim.set_feature_gates({"KMSv2KDF": kdf})
            seen = []
            for second in range(180):  # a no-op update every second for up to 3 minutes
                await sim.advance(1)
                updated = (await sim.update("secrets", "default", "a")).resource_version
                if updated != rv:
                    seen.append(second)
                    rv = updated
            # The next probe (<= 1 min) re-keys into the other DEK source type; the old value is
            # then stale on type, so exactly one no-op update rewrites it.
            assert len(seen) == 1 and seen[0] < 60
            value = await sim.etcd_get("/registry/secrets/default/a")
            assert value is not None
            assert decode_value(value)[1].dek_source_type_name == dek_type
