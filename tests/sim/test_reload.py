"""Automatic reload on the sim backend with the real plugin (INT-10, INT-11, R4's health-wait timeout)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from sandbox.backends.base import BackendOptions
from sandbox.backends.sim import SimBackend
from sandbox.core.events import ApiserverLifecycle, StatusProbed
from sandbox.sim.reload import MIN_HEALTH_WAIT

HEADER = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
RELOAD_HOOK = "/healthz/poststarthook/start-encryption-provider-config-automatic-reload"
KEY_DISABLED = "failed precondition - key disabled"


def kms(name: str, endpoint: str = "$PLUGIN_ENDPOINT") -> str:
    return f"      - kms: {{apiVersion: v2, name: {name}, endpoint: {endpoint}, timeout: 3s}}\n"


def rule(resources: str, *providers: str) -> str:
    return f"  - resources: [{resources}]\n    providers:\n" + "".join(providers)


IDENTITY = "      - identity: {}\n"


def prefix(name: str) -> bytes:
    return f"k8s:enc:kms:v2:{name}:".encode()


async def prefixes(sim: SimBackend, kind: str) -> set[bytes]:
    """The provider prefix (or b"plain") of every stored object of `kind`."""
    out = set()
    for key in await sim.etcd_keys(f"/registry/{kind}/"):
        value = await sim.etcd_get(key) or b""
        out.add(value[: value.index(b":", 15) + 1] if value.startswith(b"k8s:enc:") else b"plain")
    return out


async def first_fresh_write_with(sim: SimBackend, name: str, limit: float = 70) -> float:
    """Creates a secret every second until one carries `name`'s prefix; returns the seconds it took."""
    start = sim.now()
    for i in range(int(limit)):
        key = f"probe-{name}-{i}"
        assert (await sim.create("secrets", "default", key, {"x": b"1"})).ok
        if (await sim.etcd_get(f"/registry/secrets/default/{key}") or b"").startswith(prefix(name)):
            return sim.now() - start
        await sim.advance(1)
    raise AssertionError(f"no write carried {prefix(name)!r} within {limit} s")


def reloads(sim: SimBackend, action: str) -> list[ApiserverLifecycle]:
    return [e for e in sim.events.history() if isinstance(e, ApiserverLifecycle) and e.action == action]


async def test_INT_10_hot_reload_rotates_providers_by_editing_the_file() -> None:
    sim = SimBackend(BackendOptions(kube_version="1.33"))  # 1.33 has both reload counters
    async with sim:
        assert (await sim.health(RELOAD_HOOK)).body == "ok"
        for namespace in ("ns-a", "ns-b"):
            assert (await sim.create("secrets", namespace, "s", {"x": b"1"})).ok
        assert (await sim.create("configmaps", "default", "c", {"x": b"1"})).ok
        assert await prefixes(sim, "configmaps") == {b"plain"}
        # 1. The new providers go first, the old one stays second so old data still reads.
        await sim.set_encryption_config(
            HEADER
            + rule("secrets", kms("new-kms-provider-for-secrets"), kms("kms-provider"))
            + rule("configmaps", kms("new-kms-provider-for-configmaps"), IDENTITY)
        )
        assert await first_fresh_write_with(sim, "new-kms-provider-for-secrets") <= 60  # one hash poll
        # 2. Storage migration: everything is read (old prefix or plaintext: stale) and rewritten.
        migrated = await sim.migrate(("secrets", "configmaps"))
        # Everything but the one probe secret already written by the new provider.
        assert migrated.failed == () and migrated.rewritten == migrated.total - 1
        assert await prefixes(sim, "secrets") == {prefix("new-kms-provider-for-secrets")}
        assert await prefixes(sim, "configmaps") == {prefix("new-kms-provider-for-configmaps")}
        # 3. Remove the old provider and encrypt everything else too.
        await sim.set_encryption_config(
            HEADER
            + rule("secrets", kms("new-kms-provider-for-secrets"))
            + rule("configmaps", kms("new-kms-provider-for-configmaps"))
            + rule("'*.*'", kms("kms-provider-to-encrypt-all"), IDENTITY)
        )
        await sim.advance(60)
        assert len(reloads(sim, "reloaded")) == 2
        assert (await sim.create("configmaps", "default", "after", {"x": b"1"})).ok
        assert (await sim.get("secrets", "ns-a", "s")).data == {"x": b"1"}
        listed = await sim.list("secrets")
        assert listed.ok and {"ns-a/s", "ns-b/s"} <= set(listed.items)
        assert (await sim.list("configmaps", "default")).items == ("default/after", "default/c")
        text = await sim.metrics()
        assert "apiserver_encryption_config_controller_automatic_reload_success_total 2\n" in text
        assert 'automatic_reloads_total{apiserver_id_hash="' in text and 'status="success"} 2' in text
        assert 'automatic_reload_last_timestamp_seconds{apiserver_id_hash="' in text
        assert not reloads(sim, "reload-failed")
        # 4. A restart on the last file: everything still reads.
        await sim.restart_apiserver()
        assert (await sim.get("configmaps", "default", "c")).data == {"x": b"1"}
        assert (await sim.list("secrets")).ok and (await sim.list("configmaps")).ok


def truncate(path: Path) -> None:
    with path.open("r+") as handle:
        handle.truncate(0)


async def switch_by(sim: SimBackend, how: str, text: str) -> str:
    """Rewrites apiserver 0's config file one way; returns the failure a poll saw meanwhile ("" if none)."""
    path: Path = sim.config_path(0)
    failed_before = len(reloads(sim, "reload-failed"))
    if how == "truncate":
        await asyncio.to_thread(truncate, path)
        await sim.advance(60)  # a poll sees the empty file
        await asyncio.to_thread(path.write_text, text)
        await sim.advance(20)  # upstream sleeps past the grace period here
    elif how == "delete":
        await asyncio.to_thread(path.unlink)
        await sim.advance(60)  # a poll finds no file
        await asyncio.to_thread(path.write_text, text)
    else:
        temp = path.with_name("new-config.yaml")
        await asyncio.to_thread(temp.write_text, text)
        await asyncio.to_thread(os.replace, temp, path)
    failures = reloads(sim, "reload-failed")[failed_before:]
    return failures[-1].detail if failures else ""


async def test_INT_11_each_way_of_rewriting_the_file_is_detected() -> None:
    sim = SimBackend(BackendOptions())
    async with sim:
        for namespace in ("ns-a", "ns-b"):
            assert (await sim.create("secrets", namespace, "s", {"x": b"1"})).ok
        path = sim.config_path(0)
        previous = "kms-provider"
        seen: dict[str, str] = {}
        for how in ("truncate", "delete", "rename"):
            new = f"provider-after-{how}"
            text = sim.render_config(HEADER + rule("secrets", kms(new), kms(previous), IDENTITY), 0)
            seen[how] = await switch_by(sim, how, text)
            await first_fresh_write_with(sim, new)
            migrated = await sim.migrate()
            assert migrated.failed == () and migrated.rewritten == migrated.total - 1
            assert await prefixes(sim, "secrets") == {prefix(new)}
            assert (await sim.create("secrets", "ns-c", f"after-{how}", {"x": b"1"})).ok
            assert (await sim.list("secrets")).ok
            previous = new
        assert seen["truncate"] == (
            f"error processing encryption config file {path}: "
            f'encryption provider configuration file "{path}" is empty'
        )
        assert seen["delete"] == (
            f'error reading encryption provider configuration file "{path}": '
            f"open {path}: no such file or directory"
        )
        assert seen["rename"] == ""
        assert len(reloads(sim, "reloaded")) == 3
        # Each broken file is re-queued with client-go's rate limiter (5 ms doubling) until the
        # next write: up to ~13 failed loads in a minute, each counted.
        failures = re.search(
            r'automatic_reloads_total\{[^}]*status="failure"[^}]*\} (\d+)', await sim.metrics()
        )
        assert failures is not None and 2 < int(failures.group(1)) <= 2 * 16  # more than one per file
        assert len(reloads(sim, "reload-failed")) == int(failures.group(1))


async def test_R4_unhealthy_new_provider_keeps_the_old_config_after_the_health_wait() -> None:
    sim = SimBackend(BackendOptions(plugins=2))
    async with sim:
        await sim.control(1).add_fault("*", code="FAILED_PRECONDITION", message=KEY_DISABLED)
        await sim.set_encryption_config(
            HEADER + rule("secrets", kms("new-provider", "$PLUGIN_ENDPOINT_1"), kms("kms-provider"))
        )
        await sim.advance(60 + 20)  # the hash poll, then the health wait
        failed = reloads(sim, "reload-failed")
        assert len(failed) == 1
        assert failed[0].detail.startswith(
            "health check for new transformers failed, polling error timed out waiting for the "
            "condition: kms-provider-0: "
        )
        assert f"rpc error: code = FailedPrecondition desc = {KEY_DISABLED}" in failed[0].detail
        # The wait is max(KMSCloseGracePeriod, 10 s): 2 x (3 s + 3 s) = 12 s from the first probe.
        first_probe = next(
            e for e in sim.events.history() if isinstance(e, StatusProbed) and e.provider == "new-provider"
        )
        assert failed[0].time - first_probe.time == max(12.0, MIN_HEALTH_WAIT)
        text = await sim.metrics()
        assert 'status="failure"} 1' in text and 'status="success"' not in text
        assert (await sim.create("secrets", "default", "a", {"x": b"1"})).ok  # the old config serves
        assert (await sim.etcd_get("/registry/secrets/default/a") or b"").startswith(prefix("kms-provider"))
        assert (await sim.health()).body == "ok"
        # The controller retries on the next poll; with the plugin fixed the new config goes in.
        await sim.control(1).clear_faults()
        await sim.advance(60)
        assert len(reloads(sim, "reloaded")) == 1
        assert (await sim.create("secrets", "default", "b", {"x": b"1"})).ok
        assert (await sim.etcd_get("/registry/secrets/default/b") or b"").startswith(prefix("new-provider"))
