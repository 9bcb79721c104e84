"""Releases, virtual clock, store, prefix chain and config loading (PFX-1..5, CFG-5, INT-9)."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.core.errors import ValidationError
from sandbox.core.releases import DOCUMENTED_THROUGH, PROFILES, profile_for
from sandbox.core.versions import NEWEST_KUBE_MINOR, NEWEST_KUBE_VERSION
from sandbox.sim.api_types import ApiserverStartError
from sandbox.sim.clock import VirtualClock
from sandbox.sim.dek_cache import ExpiringCache
from sandbox.sim.store import MemoryStore, object_key
from tests.sim.conftest import ApiFactory, corrupt

KEY1 = base64.b64encode(b"k" * 32).decode()
KEY2 = base64.b64encode(b"j" * 32).decode()


def local_config(*providers: str, resources: str = "secrets") -> str:
    body = "".join(f"\n      - {p}" for p in providers)
    return f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [{resources}]
    providers:{body}
"""


NO_MATCH = "no matching prefix found"
AESCBC_1 = f"aescbc: {{keys: [{{name: key1, secret: {KEY1}}}]}}"
AESGCM_2 = f"aesgcm: {{keys: [{{name: key2, secret: {KEY2}}}]}}"
IDENTITY = "identity: {}"


def test_profiles_cover_every_release_and_their_differences() -> None:
    newest = f"1.{NEWEST_KUBE_MINOR}"
    assert sorted(p.name for p in PROFILES.values()) == sorted(
        f"1.{m}" for m in range(25, NEWEST_KUBE_MINOR + 1)
    )
    assert profile_for("").name == newest and profile_for("v1.34.2").name == "1.34"
    assert profile_for(NEWEST_KUBE_VERSION).name == newest
    assert profile_for("1.28").dek_strategy() == "counter"
    assert profile_for("1.28").dek_strategy({"KMSv2KDF": True}) == "seed"
    assert profile_for("1.29").dek_strategy({"KMSv2KDF": False}) == "seed"  # GA, locked
    assert profile_for("1.26").dek_strategy() == "per-write" and profile_for("1.27").status_versions == (
        "v2beta1",
    )
    assert profile_for("1.28").kms_on_livez and not profile_for("1.29").kms_on_livez
    assert (
        profile_for("1.33").config_hash_format == "unstable"
        and profile_for("1.34").config_hash_format == "sha256"
    )
    assert (
        not profile_for("1.27").fast_retry_after_failed_start
        and profile_for("1.28").fast_retry_after_failed_start
    )
    for bad in ("1.24", f"1.{NEWEST_KUBE_MINOR + 1}", "2.0", "banana"):
        with pytest.raises(ValidationError, match="unsupported Kubernetes version"):
            profile_for(bad)


def test_releases_after_the_spec_behave_as_the_last_documented_one() -> None:
    documented = profile_for(f"1.{DOCUMENTED_THROUGH}")
    assert documented.note == "" and documented.modelled_as == documented.name
    newer = profile_for("1.37")
    assert newer.minor == 37 and newer.documented_through == 36 and newer.modelled_as == "1.36"
    assert newer.note == (
        "1.37 behaves as 1.36 per the spec; verified against the real apiserver by the local "
        "backend's differential tests"
    )
    # Every behaviour flag equals 1.36's; only the minor differs.
    assert dataclasses.replace(newer, minor=36) == documented
    assert newer.dek_strategy() == "seed" and newer.gate_enabled("KMSv2KDF")


async def test_virtual_clock_fires_timers_in_order_and_awaits_them() -> None:
    clock = VirtualClock(start=1000.0)
    seen: list[tuple[str, float]] = []

    async def slow(name: str) -> None:
        seen.append((name, clock.now()))

    clock.call_later(30, lambda: slow("b"))
    clock.call_later(10, lambda: slow("a"))
    cancelled = clock.call_later(20, lambda: slow("never"))
    cancelled.cancel()
    await clock.advance(29)
    assert seen == [("a", 1010.0)] and clock.now() == 1029.0
    await clock.advance(1)
    assert seen == [("a", 1010.0), ("b", 1030.0)]
    with pytest.raises(ValueError, match="non-negative"):
        await clock.advance(-1)


def test_store_revisions_and_prefix_ranges() -> None:
    store = MemoryStore()
    a = store.put(object_key("/registry", "secrets", "ns", "a"), b"1")
    b = store.put(object_key("registry/", "secrets", "ns", "b"), b"2")
    again = store.put(a.key, b"3")
    assert (a.mod_revision, b.mod_revision, again.mod_revision, again.create_revision) == (2, 3, 4, 2)
    assert store.keys("/registry/secrets/ns/") == ["/registry/secrets/ns/a", "/registry/secrets/ns/b"]
    assert store.delete(a.key) and not store.delete(a.key) and store.revision == 5


@settings(deadline=None, max_examples=100)
@given(
    st.lists(st.tuples(st.booleans(), st.text("ab/\U0010ffff", min_size=1, max_size=5)), max_size=40),
    st.text("ab/\U0010ffff", max_size=3),
)
def test_store_ranges_equal_a_sorted_filter(ops: list[tuple[bool, str]], prefix: str) -> None:
    store = MemoryStore()
    for put, key in ops:
        if put:
            store.put(key, b"v")
        else:
            store.delete(key)
        expected = sorted(k for k in {k for p, k in ops} if store.get(k) is not None and k.startswith(prefix))
        assert store.keys(prefix) == expected
        assert [kv.key for kv in store.range(prefix)] == expected


def test_refreshing_a_cache_entry_files_it_once() -> None:
    now = [0.0]
    cache: ExpiringCache[int] = ExpiringCache(lambda: now[0], ttl=10)
    for _ in range(1000):  # every write refreshes the write seed's entry
        now[0] += 0.5
        cache.set(b"seed", 1)
    assert len(cache._expiries) == 1 and cache.get(b"seed") == 1
    now[0] += 11
    cache.set(b"other", 2)  # GC: the refreshed entry has now expired
    assert cache.get(b"seed") is None and len(cache) == 1


@settings(deadline=None, max_examples=50)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=4), st.floats(0, 100)), max_size=30))
def test_expiring_cache_serves_expired_entries_until_the_next_insert(ops: list[tuple[bytes, float]]) -> None:
    now = [0.0]
    cache: ExpiringCache[int] = ExpiringCache(lambda: now[0], ttl=10)
    expiry: dict[bytes, float] = {}
    for key, step in ops:
        now[0] += step
        expiry = {k: t for k, t in expiry.items() if t >= now[0]}  # GC on insert
        cache.set(key, 1)
        expiry[key] = now[0] + 10
        assert len(cache) == len(expiry)
        assert all(cache.get(k) == 1 for k in expiry)  # AllowExpiredGet: present means served


async def test_PFX_1_to_4_prefix_chain_order_staleness_and_identity(make_api: ApiFactory) -> None:
    store = MemoryStore()
    plain = await make_api(local_config(IDENTITY, AESCBC_1), store=store)
    await plain.create("secrets", "default", "s", {"a": b"1"})
    raw = store.get("/registry/secrets/default/s")
    assert raw is not None and raw.value.startswith(b"k8s\x00")  # PFX-3: identity first writes raw
    cbc = await make_api(local_config(AESCBC_1, AESGCM_2, IDENTITY), store=store, index=1)
    read = await cbc.get("secrets", "default", "s")
    assert read.data == {"a": b"1"} and read.stale  # PFX-1: read through the third provider
    rewritten = await cbc.update("secrets", "default", "s")
    assert rewritten.resource_version != str(raw.mod_revision)  # stale data is rewritten
    assert store.get(raw.key).value.startswith(b"k8s:enc:aescbc:v1:key1:")  # type: ignore[union-attr]
    assert not (await cbc.get("secrets", "default", "s")).stale
    # PFX-4: identity refuses encrypted data and the lookup continues (here: to nothing).
    gcm_only = await make_api(local_config(AESGCM_2, IDENTITY), store=store, index=2)
    assert (await gcm_only.get("secrets", "default", "s")).message == corrupt("/secrets/default/s", NO_MATCH)
    # PFX-2: no identity at all and no prefix match.
    store.put("/registry/secrets/default/junk", b"plain bytes")
    strict = await make_api(local_config(AESCBC_1), store=store, index=3)
    assert (await strict.get("secrets", "default", "junk")).message == corrupt(
        "/secrets/default/junk", NO_MATCH
    )


async def test_PFX_5_unmatched_resources_stay_plaintext(make_api: ApiFactory) -> None:
    api = await make_api(local_config(AESCBC_1))
    await api.create("configmaps", "default", "c", {"a": b"1"})
    value = api.store.get("/registry/configmaps/default/c")
    assert value is not None and value.value.startswith(b"k8s\x00")


async def test_CFG_5_load_errors_keep_the_apiserver_down(make_api: ApiFactory, short_tmp: Path) -> None:
    api = await make_api("", start=False)
    with pytest.raises(ApiserverStartError, match="is empty"):
        await api.start()
    response = await api.get("secrets", "default", "x")
    assert response.code == 503 and "is empty" in response.message
    wrong = await make_api(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfigurations\n", start=False
    )
    with pytest.raises(ApiserverStartError, match='no kind "EncryptionConfigurations" is registered'):
        await wrong.start()
    v3 = local_config("kms: {apiVersion: v3, name: x, endpoint: unix:///tmp/x.sock}")
    bad_version = await make_api(v3, start=False)
    with pytest.raises(ApiserverStartError, match="unsupported apiVersion apiVersion for KMS provider"):
        await bad_version.start()
    missing = await make_api(local_config(IDENTITY), start=False)
    missing.settings.config_path.unlink()
    with pytest.raises(ApiserverStartError, match="error reading encryption provider configuration file"):
        await missing.start()


async def test_INT_9_reload_on_without_kms_still_registers_kms_providers(make_api: ApiFactory) -> None:
    api = await make_api(local_config(AESCBC_1))
    assert (await api.health("/healthz/kms-providers")).body == "ok"
    assert (await api.health("/livez/kms-providers")).body == "404 page not found\n"
    answer = await api.health("/healthz?exclude=kms-provider-0&exclude=kms-provider-1")
    assert answer.code == 200 and answer.body == "ok"
    verbose = await api.health("/healthz?verbose&exclude=kms-provider-0&exclude=kms-provider-1")
    assert (
        'warn: some health checks cannot be excluded: no matches for "kms-provider-0","kms-provider-1"'
        in verbose.body
    )
    no_reload = await make_api(local_config(AESCBC_1), reload=False, index=1)
    assert (await no_reload.health("/healthz/kms-providers")).body == "404 page not found\n"


async def test_read_failures_are_corrupt_objects_from_1_32(make_api: ApiFactory) -> None:
    """KEP-3926 (1.32) wraps read-path transform errors; 1.37.2 shows ` revision=0` too."""
    expected = {
        "1.31": "Internal error occurred: no matching prefix found",
        "1.33": (
            "Internal error occurred: StorageError: corrupt object, Code: 7, Key: /secrets/default/junk, "
            "ResourceVersion: 0, AdditionalErrorMsg: data from the storage is not transformable: "
            "no matching prefix found"
        ),
        "1.37": corrupt("/secrets/default/junk", NO_MATCH),
    }
    for version, message in expected.items():
        store = MemoryStore()
        store.put("/registry/secrets/default/junk", b"plain bytes")
        api = await make_api(local_config(AESCBC_1), store=store, version=version)
        assert (await api.get("secrets", "default", "junk")).message == message
        listed = await api.list("secrets")
        assert listed.code == 500
        if version == "1.31":
            assert listed.message == message
        else:
            assert (listed.reason, listed.message) == (
                "StoreReadError",
                "failed to read one or more secrets from the storage",
            )
