"""The control API over its own socket: keys, health lies, outages, faults, latency, events, metrics."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from sandbox.core.events import PluginCall, PluginStateChanged
from sandbox.kms.client import KmsRpcError, KmsV2Client
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.server import RunningPlugin
from tests.plugin.conftest import StartPlugin


def uid() -> str:
    return str(uuid.uuid4())


async def test_state_rotate_retire(control: PluginControlClient, kms: KmsV2Client) -> None:
    state = await control.get_state()
    assert state.api == "v2" and len(state.keys) == 1 and state.keys[0].current
    first = state.current_key_id
    old = await kms.encrypt(b"o" * 32, uid())
    new_id = await control.rotate()
    assert new_id != first and (await kms.status()).key_id == new_id
    with pytest.raises(KmsRpcError) as err:
        await control.retire(new_id)
    assert err.value.code == "FailedPrecondition" and "refusing to retire the current KEK" in err.value.desc
    await control.retire(first)
    with pytest.raises(KmsRpcError) as err:
        await kms.decrypt(old.ciphertext, uid(), old.key_id, old.annotations)
    assert err.value.code == "NotFound" and "was retired" in err.value.desc
    state = await control.get_state()
    assert state.retired_key_ids == (first,)
    assert [(k.key_id, k.current) for k in state.keys] == [(new_id, True)]
    with pytest.raises(KmsRpcError) as err:
        await control.retire("kek-404-nothing")
    assert err.value.code == "NotFound"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"healthz": "key disabled"}, ("v2", "key disabled", "REAL")),
        ({"key_id_mode": "empty"}, ("v2", "ok", "")),
        ({"key_id_mode": "too-long"}, ("v2", "ok", "k" * 1025)),
        ({"key_id_mode": "custom", "custom_key_id": "forged"}, ("v2", "ok", "forged")),
        ({"version": "v2beta1"}, ("v2beta1", "ok", "REAL")),
    ],
)
async def test_health_overrides(
    control: PluginControlClient, kms: KmsV2Client, kwargs: dict[str, str], expected: tuple[str, str, str]
) -> None:
    real = (await kms.status()).key_id
    await control.set_health(**kwargs)
    status = await kms.status()
    version, healthz, key_id = expected
    assert (status.version, status.healthz, status.key_id) == (
        version,
        healthz,
        real if key_id == "REAL" else key_id,
    )
    state = await control.set_health()  # back to the truth
    assert state.health.is_default
    assert (await kms.status()).key_id == real


async def test_outage_unavailable_then_restore(control: PluginControlClient, kms: KmsV2Client) -> None:
    await control.set_outage("unavailable")
    with pytest.raises(KmsRpcError) as err:
        await kms.encrypt(b"x" * 32, uid())
    assert err.value.code == "Unavailable"
    assert (await control.get_state()).outage == "unavailable"
    await control.set_outage("none")
    assert (await kms.status()).healthz == "ok"


async def test_outage_hang_makes_the_deadline_fire(
    plugin: RunningPlugin, control: PluginControlClient
) -> None:
    await control.set_outage("hang")
    async with KmsV2Client(plugin.kms.url, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(KmsRpcError) as err:
            await client.status()
        assert 0.25 <= time.monotonic() - started < 2
    assert str(err.value) == "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    await control.set_outage("none")
    async with KmsV2Client(plugin.kms.url, timeout=1) as client:
        assert (await client.status()).healthz == "ok"


async def test_fault_with_code_for_next_n_calls(control: PluginControlClient, kms: KmsV2Client) -> None:
    state = await control.add_fault(
        "Decrypt", code="FailedPrecondition", message="failed precondition - key disabled", count=2
    )
    assert state.faults[0].code == "FAILED_PRECONDITION" and state.faults[0].count == 2
    enc = await kms.encrypt(b"f" * 32, uid())  # Encrypt untouched
    for _ in range(2):
        with pytest.raises(KmsRpcError) as err:
            await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations)
        assert (
            str(err.value) == "rpc error: code = FailedPrecondition desc = failed precondition - key disabled"
        )
    assert await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations) == b"f" * 32
    assert (await control.get_state()).faults == ()


async def test_fault_latency_and_wildcard(control: PluginControlClient, kms: KmsV2Client) -> None:
    await control.add_fault("*", latency_ms=150)
    started = time.monotonic()
    await kms.status()
    assert time.monotonic() - started >= 0.14
    await control.clear_faults()
    started = time.monotonic()
    await kms.status()
    assert time.monotonic() - started < 0.1


async def test_fault_probability(control: PluginControlClient, kms: KmsV2Client) -> None:
    await control.add_fault("Status", code="INTERNAL", probability=0.5)
    outcomes = []
    for _ in range(60):
        try:
            await kms.status()
            outcomes.append("ok")
        except KmsRpcError as exc:
            assert exc.code == "Internal"
            outcomes.append("failed")
    # 60 fair coin flips: both outcomes appear (chance of not: 2 * 2**-60).
    assert 0 < outcomes.count("failed") < 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "Bogus", "code": "INTERNAL"}, "unknown method 'Bogus'"),
        ({"method": "Status"}, "a fault needs a code, a latency, or both"),
        ({"method": "Status", "code": "OK"}, "code OK is not a fault"),
        ({"method": "Status", "code": "INTERNAL", "probability": 2.0}, "probability 2.0 is outside 0..1"),
    ],
)
async def test_bad_faults_are_refused(
    control: PluginControlClient, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(KmsRpcError) as err:
        await control.add_fault(**kwargs)  # type: ignore[arg-type]
    assert err.value.code == "InvalidArgument" and message in err.value.desc
    with pytest.raises(ValueError, match="unknown gRPC status code 'Nope'"):
        await control.add_fault("Status", code="Nope")


async def test_remote_latency_model_and_counters(control: PluginControlClient, kms: KmsV2Client) -> None:
    state = await control.set_remote_latency(100, 50)
    assert state.remote_latency_ms == (100.0, 50.0)
    started = time.monotonic()
    enc = await kms.encrypt(b"r" * 32, uid())
    assert time.monotonic() - started >= 0.09
    started = time.monotonic()
    await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations)
    assert time.monotonic() - started >= 0.045
    state = await control.get_state()
    assert state.counters == {("Encrypt", "OK"): 1, ("Decrypt", "OK"): 1}
    assert (await control.reset_counters()).counters == {}


async def test_event_stream_replay_and_follow(control: PluginControlClient, kms: KmsV2Client) -> None:
    enc = await kms.encrypt(b"e" * 32, "uid-encrypt")
    with pytest.raises(KmsRpcError):
        await kms.decrypt(enc.ciphertext, "uid-bad", "kek-0-nope", enc.annotations)
    replayed = [e async for e in control.watch_events(replay=10, follow=False)]
    assert [type(e) for e in replayed] == [PluginCall, PluginCall]
    first, second = replayed
    assert isinstance(first, PluginCall) and isinstance(second, PluginCall)
    assert (first.method, first.uid, first.key_id, first.code, first.source) == (
        "Encrypt",
        "uid-encrypt",
        enc.key_id,
        "OK",
        "plugin",
    )
    assert first.annotation_keys == ("version.kms-sandbox.dev",)
    assert first.request_bytes > 32 and first.response_bytes > 60 and first.latency_ms > 0
    assert (second.method, second.uid, second.code) == ("Decrypt", "uid-bad", "NOT_FOUND")
    assert "unknown key_id" in second.message

    seen: list[object] = []

    async def follow() -> None:
        async for event in control.watch_events(replay=1):
            seen.append(event)
            if len(seen) == 3:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    await kms.status()
    await control.rotate()
    await asyncio.wait_for(task, 5)
    assert isinstance(seen[0], PluginCall) and seen[0].uid == "uid-bad"  # the replay
    assert isinstance(seen[1], PluginCall) and seen[1].method == "Status"
    assert isinstance(seen[2], PluginStateChanged) and seen[2].change == "rotate"
    assert seen[2].current_key_id == (await control.get_state()).current_key_id


async def test_events_and_logs_never_carry_secrets(
    start_plugin: StartPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="sandbox.kms")
    dek = bytes(range(32))
    async with start_plugin() as plugin, KmsV2Client(plugin.kms.url) as client:
        enc = await client.encrypt(dek, "uid-secret-check")
        await client.decrypt(enc.ciphertext, "uid-2", enc.key_id, enc.annotations)
        kek = plugin.service.keyring.current.key
        dumped = repr([e.to_dict() for _, e in plugin.service.events])
    from sandbox.kms.logs import JsonLinesFormatter, TextFormatter

    lines = [fmt.format(r) for r in caplog.records for fmt in (JsonLinesFormatter(), TextFormatter())]
    text = "\n".join(lines) + dumped
    assert '"uid":"uid-secret-check"' in text and "uid=uid-secret-check" in text
    for secret in (dek, kek):
        assert secret.hex() not in text and repr(secret) not in text


async def test_metrics_endpoint(start_plugin: StartPlugin) -> None:
    async with start_plugin(metrics_port=0) as plugin, KmsV2Client(plugin.kms.url) as client:
        await client.status()
        with pytest.raises(KmsRpcError):
            await client.encrypt(b"", uid())
        assert plugin.metrics_port
        reader, writer = await asyncio.open_connection("127.0.0.1", plugin.metrics_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        body = (await reader.read()).decode()
        writer.close()
    assert body.startswith("HTTP/1.0 200 OK")
    assert 'kms_sandbox_plugin_calls_total{method="Status",code="OK"} 1' in body
    assert 'kms_sandbox_plugin_calls_total{method="Encrypt",code="INVALID_ARGUMENT"} 1' in body
    assert 'kms_sandbox_plugin_call_duration_seconds_count{method="Status"} 1' in body
    assert (
        'kms_sandbox_plugin_call_duration_seconds_bucket{method="Status",le="10.0"} 1' in body
    )  # cumulative
    assert 'kms_sandbox_plugin_call_duration_seconds_bucket{method="Status",le="+Inf"} 1' in body
    assert f'kms_sandbox_plugin_current_key_info{{key_id="{plugin.service.keyring.current_id}"}} 1' in body
