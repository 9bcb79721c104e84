"""`kms-sandbox plugin ...` through real subprocesses against a real plugin process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.kms.client import KmsRpcError, KmsV2Client
from sandbox.kms.process import PluginProcess


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", "plugin", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def running(short_tmp: Path) -> AsyncIterator[PluginProcess]:
    plugin = PluginProcess(short_tmp / "p")
    await plugin.start(timeout=30)  # generous: the shared CI machine can be very busy
    try:
        yield plugin
    finally:
        await plugin.stop()


async def test_status_rotate_retire(running: PluginProcess) -> None:
    ctl = ("--control", running.control_endpoint)
    code, out, _ = await cli("status", *ctl, "--json")
    assert code == 0
    state = json.loads(out)
    first = state["current_key_id"]
    assert state["api"] == "v2" and state["pid"] == running.pid

    code, out, _ = await cli("rotate", *ctl)
    assert code == 0 and "current key_id is now kek-2-" in out
    code, out, err = await cli("retire", first, *ctl)
    assert code == 0 and f"retired {first}" in out
    code, out, _ = await cli("status", *ctl)
    assert code == 0 and f"retired:    {first}" in out and "* kek-2-" in out

    current = out.split("current key ")[1].split()[0]
    code, _, err = await cli("retire", current, *ctl)
    assert code == 2 and err.strip() == (
        f"kms-sandbox: error: refusing to retire the current KEK {current}; rotate first"
    )


async def test_health_and_outage(running: PluginProcess) -> None:
    ctl = ("--control", running.control_endpoint)
    async with KmsV2Client(running.kms_endpoint, timeout=1) as kms:
        assert (await cli("health", *ctl, "--healthz", "key disabled", "--key-id", "custom:forged"))[0] == 0
        status = await kms.status()
        assert (status.healthz, status.key_id) == ("key disabled", "forged")
        assert (await cli("health", *ctl, "--ok"))[0] == 0
        assert (await kms.status()).healthz == "ok"

        assert (await cli("outage", *ctl))[0] == 0
        with pytest.raises(KmsRpcError, match="code = Unavailable"):
            await kms.status()
        assert (await cli("restore", *ctl))[0] == 0
        await kms.status()


async def test_fault_latency_events(running: PluginProcess) -> None:
    ctl = ("--control", running.control_endpoint)
    async with KmsV2Client(running.kms_endpoint, timeout=1) as kms:
        await kms.status()
        code, out, _ = await cli(
            "fault", "Encrypt", *ctl, "--code", "Internal", "--message", "hsm on fire", "--count", "1"
        )
        assert code == 0 and "Encrypt" in out and "code=INTERNAL" in out
        with pytest.raises(KmsRpcError) as err:
            await kms.encrypt(b"x" * 32, "u1")
        assert str(err.value) == "rpc error: code = Internal desc = hsm on fire"
        await kms.encrypt(b"x" * 32, "u2")
        assert (await cli("faults", "clear", *ctl))[0] == 0

        code, out, _ = await cli("latency", *ctl, "--encrypt-ms", "5", "--decrypt-ms", "7")
        assert code == 0
        code, out, _ = await cli("status", *ctl, "--json")
        assert json.loads(out)["remote_latency_ms"] == {"encrypt": 5.0, "decrypt": 7.0}

    code, out, _ = await cli("events", *ctl, "--json")
    events = [json.loads(line) for line in out.splitlines()]
    calls = [e for e in events if e["kind"] == "plugin.call"]
    assert {"Status", "Encrypt"} <= {e["method"] for e in calls}
    assert any(e["code"] == "INTERNAL" and e["uid"] == "u1" for e in calls)
    assert any(e["kind"] == "plugin.state" and e["change"] == "latency" for e in events)
    code, out, _ = await cli("events", *ctl, "--replay", "3")
    assert code == 0 and len(out.splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fault", "Encrypt", "--code", "Bogus"), "unknown gRPC status code 'Bogus'"),
        (("fault", "Nope", "--code", "INTERNAL"), "unknown method 'Nope'"),
        (
            ("health", "--key-id", "weird"),
            "bad --key-id 'weird'; expected empty, too-long, real or custom:ID",
        ),
        (("health", "--key-id", "custom:"), "--key-id custom: needs an id after the colon"),
    ],
)
async def test_bad_input_is_one_line_exit_2(
    running: PluginProcess, args: tuple[str, ...], message: str
) -> None:
    code, _, err = await cli(*args, "--control", running.control_endpoint)
    assert code == 2
    assert err.strip().startswith("kms-sandbox: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


async def test_no_plugin_running(short_tmp: Path) -> None:
    code, _, err = await cli("status", "--control", f"unix://{short_tmp}/none.control.sock")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"no plugin control socket at {short_tmp}/none.control.sock" in err
    # via the environment variable, and a socket file nobody serves
    dead = short_tmp / "dead.sock"
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(dead))
    code, _, err = await cli("rotate", env={"KMS_SANDBOX_CONTROL": f"unix://{dead}"})
    assert code == 2 and f"no plugin answers on unix://{dead}" in err


async def test_serve_bad_arguments(short_tmp: Path) -> None:
    code, _, err = await cli("serve", "--listen", "http://x", "--state-dir", str(short_tmp))
    assert (
        code == 2 and err.strip() == 'kms-sandbox: error: unsupported scheme "http" for remote KMS provider'
    )
    (short_tmp / "keyring.json").write_text("{not json")
    code, _, err = await cli("serve", "--listen", f"unix://{short_tmp}/k.sock", "--state-dir", str(short_tmp))
    assert code == 2 and "cannot read keyring" in err and len(err.strip().splitlines()) == 1


async def test_json_logs_carry_the_uid_and_no_secrets(short_tmp: Path) -> None:
    dek = bytes(range(100, 132))
    plugin = PluginProcess(short_tmp / "j", api="v2beta1", extra_args=("--log-format", "json"))
    async with plugin, KmsV2Client(plugin.kms_endpoint) as kms:
        assert (await kms.status()).version == "v2beta1"
        await kms.encrypt(dek, "uid-in-the-log")
    lines = [json.loads(line) for line in plugin.log_path.read_text().splitlines()]
    call = next(line for line in lines if line.get("method") == "Encrypt")
    assert call["uid"] == "uid-in-the-log" and call["code"] == "OK" and call["msg"] == "kms call"
    assert lines[-1]["msg"] == "stopped"
    text = plugin.log_path.read_text()
    keks = [k["key"] for k in json.loads((short_tmp / "j" / "keyring.json").read_text())["keks"]]
    for secret in (dek.hex(), repr(dek), *keks):
        assert secret not in text
