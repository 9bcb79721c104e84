"""Replicas on one keyring: two real plugin processes sharing one state dir (the "remote KMS")."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.core.events import PluginStateChanged
from sandbox.core.keyring import Keyring, KeyringError, RetireCurrentError
from sandbox.kms.client import KmsRpcError, KmsV2Client
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.keystore import KEYRING_FILE, save_keyring
from sandbox.kms.process import PluginProcess

from .test_cli import cli

DEK = b"d" * 32


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def replicas(short_tmp: Path) -> AsyncIterator[tuple[PluginProcess, PluginProcess]]:
    state = short_tmp / "kms"
    a = PluginProcess(state, name="a")
    b = PluginProcess(state, name="b")
    try:
        await a.start(timeout=30)
        await b.start(timeout=30)
        yield a, b
    finally:
        await asyncio.gather(a.stop(), b.stop())


def keyring_on_disk(plugin: PluginProcess) -> dict[str, object]:
    data: dict[str, object] = json.loads((plugin.state_dir / KEYRING_FILE).read_text())
    return data


async def test_a_rotation_through_one_replica_is_seen_by_the_other(
    replicas: tuple[PluginProcess, PluginProcess],
) -> None:
    a, b = replicas
    async with (
        KmsV2Client(a.kms_endpoint) as kms_a,
        KmsV2Client(b.kms_endpoint) as kms_b,
        PluginControlClient(a.control_endpoint) as ctl_a,
        PluginControlClient(b.control_endpoint) as ctl_b,
    ):
        first = (await kms_a.status()).key_id
        assert (await kms_b.status()).key_id == first  # same keyring from the start
        new = await ctl_a.rotate()
        assert new != first
        assert (await kms_b.status()).key_id == new  # no restart needed
        wrapped = await kms_a.encrypt(DEK, uid())
        assert wrapped.key_id == new
        assert await kms_b.decrypt(wrapped.ciphertext, uid(), wrapped.key_id, wrapped.annotations) == DEK
        state_b = await ctl_b.get_state()
        assert state_b.current_key_id == new and not state_b.keyring_sync_paused
        reloads = [
            e
            async for e in ctl_b.watch_events(replay=50, follow=False)
            if isinstance(e, PluginStateChanged) and e.change == "keyring-reloaded"
        ]
        assert len(reloads) == 1
        assert reloads[0].detail == f"current {first} -> {new}; added {new}"
        assert reloads[0].current_key_id == new

        # A retirement through B reaches A too.
        await ctl_b.retire(first)
        with pytest.raises(KmsRpcError, match="was retired") as err:
            await kms_a.decrypt(wrapped.ciphertext, uid(), first, wrapped.annotations)
        assert err.value.code == "NotFound"


async def test_concurrent_rotations_through_both_replicas_lose_no_key(
    replicas: tuple[PluginProcess, PluginProcess],
) -> None:
    a, b = replicas
    rounds = 15
    async with (
        PluginControlClient(a.control_endpoint, timeout=30) as ctl_a,
        PluginControlClient(b.control_endpoint, timeout=30) as ctl_b,
    ):

        async def rotate_many(ctl: PluginControlClient) -> list[str]:
            return [await ctl.rotate() for _ in range(rounds)]

        from_a, from_b = await asyncio.gather(rotate_many(ctl_a), rotate_many(ctl_b))
        state_a, state_b = await asyncio.gather(ctl_a.get_state(), ctl_b.get_state())
    issued = set(from_a) | set(from_b)
    assert len(issued) == 2 * rounds  # no id issued twice
    on_disk = keyring_on_disk(a)
    kept = {k["key_id"] for k in on_disk["keks"]}  # type: ignore[attr-defined]
    assert issued <= kept and len(kept) == 2 * rounds + 1  # every KEK survived, plus the first
    assert on_disk["serial"] == 2 * rounds + 1
    assert state_a.current_key_id == state_b.current_key_id == on_disk["current"]
    assert {k.key_id for k in state_a.keys} == {k.key_id for k in state_b.keys} == kept


async def test_a_lagging_replica_keeps_the_old_key_and_cannot_unwrap_newer_data(
    replicas: tuple[PluginProcess, PluginProcess],
) -> None:
    a, b = replicas
    async with (
        KmsV2Client(a.kms_endpoint) as kms_a,
        KmsV2Client(b.kms_endpoint) as kms_b,
        PluginControlClient(a.control_endpoint) as ctl_a,
        PluginControlClient(b.control_endpoint) as ctl_b,
    ):
        old = (await kms_b.status()).key_id
        assert (await ctl_b.set_keyring_sync(True)).keyring_sync_paused
        new = await ctl_a.rotate()
        assert (await kms_b.status()).key_id == old  # still reports the old KEK
        assert (await ctl_b.get_state()).current_key_id == old
        wrapped_new = await kms_a.encrypt(DEK, uid())
        with pytest.raises(KmsRpcError, match=f"unknown key_id '{new}'") as err:
            await kms_b.decrypt(wrapped_new.ciphertext, uid(), new, wrapped_new.annotations)
        assert err.value.code == "NotFound"
        assert "keyring sync is paused" in str(err.value)
        wrapped_old = await kms_b.encrypt(DEK, uid())  # still wraps under its old KEK
        assert wrapped_old.key_id == old
        assert await kms_a.decrypt(wrapped_old.ciphertext, uid(), old, wrapped_old.annotations) == DEK
        with pytest.raises(KmsRpcError, match="keyring sync is paused on this instance") as refused:
            await ctl_b.rotate()  # a rotation from a stale copy would lose A's key
        assert refused.value.code == "FailedPrecondition"

        state = await ctl_b.set_keyring_sync(False)  # catches up at once
        assert not state.keyring_sync_paused and state.current_key_id == new
        assert (await kms_b.status()).key_id == new
        assert await kms_b.decrypt(wrapped_new.ciphertext, uid(), new, wrapped_new.annotations) == DEK


async def test_a_damaged_keyring_file_keeps_replicas_serving_their_keys(
    replicas: tuple[PluginProcess, PluginProcess],
) -> None:
    a, _ = replicas
    path = a.state_dir / KEYRING_FILE
    async with KmsV2Client(a.kms_endpoint) as kms, PluginControlClient(a.control_endpoint) as ctl:
        key_id = (await kms.status()).key_id
        wrapped = await kms.encrypt(DEK, uid())
        good = path.read_bytes()
        tmp = path.with_suffix(".broken")
        tmp.write_text("{ not json")
        os.replace(tmp, path)
        assert (await kms.status()).key_id == key_id
        assert await kms.decrypt(wrapped.ciphertext, uid(), key_id, wrapped.annotations) == DEK
        with pytest.raises(KmsRpcError, match="cannot read keyring") as err:
            await ctl.rotate()  # never overwrite a file we cannot read
        assert err.value.code == "FailedPrecondition"
        assert path.read_text() == "{ not json"
        path.write_bytes(good)
    log = a.log_path.read_text()
    assert log.count("keyring file changed but cannot be loaded") == 1  # once, not per call


async def test_replicas_starting_together_on_an_empty_dir_share_one_first_kek(short_tmp: Path) -> None:
    state = short_tmp / "fresh"
    a, b = PluginProcess(state, name="a"), PluginProcess(state, name="b")
    try:
        await asyncio.gather(a.start(timeout=30), b.start(timeout=30))
        async with KmsV2Client(a.kms_endpoint) as kms_a, KmsV2Client(b.kms_endpoint) as kms_b:
            assert (await kms_a.status()).key_id == (await kms_b.status()).key_id
        assert len(keyring_on_disk(a)["keks"]) == 1  # type: ignore[arg-type]
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def test_lag_from_the_cli(replicas: tuple[PluginProcess, PluginProcess]) -> None:
    a, b = replicas
    ctl = ("--control", b.control_endpoint)
    code, out, _ = await cli("lag", "on", *ctl)
    assert code == 0 and out.startswith("lagging: this instance keeps key_id kek-1-")
    code, out, _ = await cli("status", *ctl)
    assert code == 0 and "keyring     LAGGING" in out
    code, out, _ = await cli("status", *ctl, "--json")
    assert json.loads(out)["keyring_sync_paused"] is True
    async with PluginControlClient(a.control_endpoint) as ctl_a:
        new = await ctl_a.rotate()
    code, out, _ = await cli("lag", "off", *ctl)
    assert code == 0 and out.strip() == f"following the shared keyring again: current key_id is {new}"
    code, _, err = await cli("lag", "sideways", *ctl)
    assert code == 2 and "invalid choice: 'sideways'" in err


def test_update_rereads_the_file_a_stale_save_would_clobber(short_tmp: Path) -> None:
    """`update` works on the file, never on a stale copy (a plain save from one loses keys)."""
    from sandbox.kms.keystore import KeyringFile

    first, second = KeyringFile(short_tmp), KeyringFile(short_tmp)
    stale = first.load_or_create()
    second.update(lambda ring: ring.rotate(2.0))  # through the lock: re-reads, keeps everything
    assert first.changed()
    stale.rotate(3.0)
    save_keyring(short_tmp, stale)  # no lock, stale copy: the other rotation is lost
    assert len(json.loads((short_tmp / KEYRING_FILE).read_text())["keks"]) == 2
    first.update(lambda ring: ring.rotate(4.0))
    assert len(json.loads((short_tmp / KEYRING_FILE).read_text())["keks"]) == 3


def rotate_at(now: float, ring: Keyring) -> None:
    ring.rotate(now)


def retire(key_id: str, ring: Keyring) -> None:
    ring.retire(key_id)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(["rotate-a", "rotate-b", "retire-a", "retire-b", "look-a", "look-b"]), max_size=12
    )
)
def test_every_change_through_one_file_handle_is_seen_by_the_other(short_tmp: Path, ops: list[str]) -> None:
    """Whatever one handle writes, the other's next look returns exactly what is on disk."""
    from sandbox.kms.keystore import KeyringFile

    state = short_tmp / uuid.uuid4().hex[:8]
    handles = {"a": KeyringFile(state), "b": KeyringFile(state)}
    rings = {name: handle.load_or_create() for name, handle in handles.items()}
    for step, op in enumerate(ops):
        action, name = op.split("-")
        handle = handles[name]
        if action == "rotate":
            rings[name], _ = handle.update(partial(rotate_at, float(step)))
        elif action == "retire":
            oldest = next(iter(rings[name].keks))
            try:
                rings[name], _ = handle.update(partial(retire, oldest))
            except (RetireCurrentError, KeyringError):
                pass  # the current one, or already retired through the other handle
        for other, other_handle in handles.items():
            fresh = other_handle.load_if_changed()
            if fresh is not None:
                rings[other] = fresh
        on_disk = Keyring.from_dict(json.loads((state / KEYRING_FILE).read_text()))
        for ring in rings.values():
            assert (ring.current_id, list(ring.keks), ring.retired) == (
                on_disk.current_id,
                list(on_disk.keks),
                on_disk.retired,
            )
