"""The watch cache's initial LIST after start: where restart-time Decrypts happen, and its retries."""

from __future__ import annotations

from sandbox.core.events import DekCacheChanged, EventBus, StorageRead, WatchCacheListed
from sandbox.sim.clock import VirtualClock
from sandbox.sim.store import MemoryStore
from sandbox.sim.watch_cache import FIRST_RETRY, MAX_RETRY
from tests.sim.base64_plugin import Base64Plugin
from tests.sim.conftest import ApiFactory, v2_config

NIL = "got unexpected nil transformer"


def listed(bus: EventBus, resource: str = "secrets") -> list[WatchCacheListed]:
    return [e for e in bus.history() if isinstance(e, WatchCacheListed) and e.resource == resource]


async def test_restart_decrypts_in_the_initial_list_before_any_client_read(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    bus = EventBus()
    # 1.36: one object at a time (1.37 decodes 10 at once: see the next test).
    api = await make_api(v2_config(b64.endpoint), bus=bus, version="1.36")
    for i in range(5):
        await api.create("secrets", "default", f"s{i}", {"a": str(i).encode()})
    before, reads_before = b64.decrypt_calls, len(bus.history(["storage.read"]))
    await api.restart()
    assert b64.decrypt_calls == before + 1  # five objects, one seed
    reads = [
        e
        for e in bus.history(["storage.read"])[reads_before:]
        if isinstance(e, StorageRead) and e.key.startswith("/registry/secrets/")
    ]  # the configmaps cache also decodes the kube-system ConfigMaps (not encrypted here)
    assert [e.key for e in reads] == [f"/registry/secrets/default/s{i}" for i in range(5)]
    assert {e.source for e in reads} == {"apiserver-0"}
    assert [e.dek_cache_hit for e in reads] == [False, True, True, True, True]
    assert [(e.ok, e.objects, e.attempt) for e in listed(bus)[-1:]] == [(True, 5, 1)]
    cache_events = [e for e in bus.history()[reads_before:] if isinstance(e, DekCacheChanged)]
    assert [(e.action, e.size) for e in cache_events][-2:] == [("miss", 0), ("insert", 1)]
    assert api.watch_cache.all_synced
    assert (await api.get("secrets", "default", "s3")).data == {"a": b"3"}
    assert b64.decrypt_calls == before + 1  # the client GET found the cache warm


async def test_1_37_decodes_ten_at_once_so_one_seed_costs_up_to_ten_decrypts(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    """Measured on the real v1.37.2 (local backend): 200 secrets under one seed, 10 Decrypts."""
    api = await make_api(v2_config(b64.endpoint), version="1.37")
    for i in range(12):
        await api.create("secrets", "default", f"s{i:02d}", {"a": b"x"})
    before = b64.decrypt_calls
    await api.restart()
    assert b64.decrypt_calls == before + 10  # the first window of 10 all miss; the rest hit
    assert (await api.get("secrets", "default", "s11")).data == {"a": b"x"}
    assert b64.decrypt_calls == before + 10


async def test_failed_list_retries_with_doubling_backoff_until_the_first_good_probe(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    bus, clock = EventBus(), VirtualClock(start=1000.0)
    api = await make_api(v2_config(b64.endpoint), bus=bus, clock=clock)
    await api.create("secrets", "default", "a", {"a": b"1"})
    b64.failed = True
    await api.restart()  # the inline probe fails: no write state, every decode is NIL
    b64.failed = False  # the 10 s fast probe will succeed
    await clock.advance(20)
    attempts = listed(bus)[-5:]
    assert [(e.attempt, e.ok, e.error, e.retry_in) for e in attempts] == [
        (1, False, NIL, 1.0),
        (2, False, NIL, 2.0),
        (3, False, NIL, 4.0),
        (4, False, NIL, 8.0),
        (5, True, "", 0.0),
    ]
    # Retries at 1, 3 and 7 s fail; the probe succeeds at 10 s; the retry at 15 s lists.
    assert [e.time - 1000.0 for e in attempts] == [0.0, 1.0, 3.0, 7.0, 15.0]
    assert api.watch_cache.all_synced


async def test_backoff_is_capped_and_a_restart_starts_over(b64: Base64Plugin, make_api: ApiFactory) -> None:
    bus, clock, store = EventBus(), VirtualClock(start=1000.0), MemoryStore()
    store.put("/registry/secrets/default/garbage", b"k8s:enc:kms:v2:kms-provider:not a protobuf")
    api = await make_api(v2_config(b64.endpoint), bus=bus, clock=clock, store=store)
    await clock.advance(200)
    delays = [e.retry_in for e in listed(bus)]
    expected = [min(FIRST_RETRY * 2**i, MAX_RETRY) for i in range(len(delays))]
    assert delays == expected and delays[-1] == MAX_RETRY and len(delays) >= 9
    assert not api.watch_cache.all_synced
    assert (await api.create("secrets", "default", "ok", {"a": b"1"})).ok  # clients are unaffected
    assert (await api.get("secrets", "default", "ok")).ok
    api.store.delete("/registry/secrets/default/garbage")
    await api.restart()
    assert [(e.attempt, e.ok, e.objects) for e in listed(bus)[-1:]] == [(1, True, 1)]
    pending = len(clock.pending())
    await api.close()
    assert len(clock.pending()) < pending  # no retry timers outlive the process


async def test_no_watch_cache_means_no_initial_list(b64: Base64Plugin, make_api: ApiFactory) -> None:
    bus = EventBus()
    api = await make_api(v2_config(b64.endpoint), bus=bus, watch_cache=False)
    await api.create("secrets", "default", "a", {"a": b"1"})
    before = b64.decrypt_calls
    await api.restart()
    assert b64.decrypt_calls == before and not listed(bus)
    assert (await api.get("secrets", "default", "a")).ok
    assert b64.decrypt_calls == before + 1  # the first client read pays instead


async def test_an_ha_peer_restarting_decrypts_every_apiservers_seed(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    store, clock, bus = MemoryStore(), VirtualClock(), EventBus()
    first = await make_api(v2_config(b64.endpoint), store=store, clock=clock, bus=bus)
    second = await make_api(v2_config(b64.endpoint), store=store, clock=clock, bus=bus, index=1)
    await first.create("secrets", "default", "a", {"a": b"1"})
    await second.create("secrets", "default", "b", {"a": b"2"})
    before = b64.decrypt_calls
    await second.restart()
    assert b64.decrypt_calls == before + 2  # its peer's seed and its own previous one
    assert [(e.source, e.objects) for e in listed(bus)[-1:]] == [("apiserver-1", 2)]
    assert (await second.get("secrets", "default", "a")).data == {"a": b"1"}
    assert b64.decrypt_calls == before + 2
