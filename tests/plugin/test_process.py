"""The plugin as a real subprocess: restarts, stale sockets, a second plugin, SIGTERM, orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from sandbox.core.events import PluginCall
from sandbox.kms.client import KmsV2Client
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.process import PluginProcess, PluginProcessError


def uid() -> str:
    return str(uuid.uuid4())


async def test_restart_keeps_keys_and_kill9_leaves_a_reclaimable_socket(short_tmp: Path) -> None:
    plugin = PluginProcess(short_tmp / "p")
    try:
        await plugin.start()
        assert plugin.running and plugin.pid
        async with (
            KmsV2Client(plugin.kms_endpoint) as client,
            PluginControlClient(plugin.control_endpoint) as ctl,
        ):
            first = await client.encrypt(b"p" * 32, uid())
            second_key = await ctl.rotate()
            second = await client.encrypt(b"q" * 32, uid())
        assert second.key_id == second_key != first.key_id

        await plugin.kill()  # SIGKILL: the socket files stay behind
        assert plugin.returncode == -signal.SIGKILL
        assert stat.S_ISSOCK(os.stat(plugin.kms_endpoint.removeprefix("unix://")).st_mode)

        await plugin.start()  # reclaims the stale sockets
        assert "removed stale socket" in plugin.log_path.read_text()
        async with KmsV2Client(plugin.kms_endpoint) as client:
            assert (await client.status()).key_id == second_key
            assert await client.decrypt(first.ciphertext, uid(), first.key_id, first.annotations) == b"p" * 32
            assert (
                await client.decrypt(second.ciphertext, uid(), second.key_id, second.annotations) == b"q" * 32
            )
    finally:
        await plugin.stop()


async def test_second_plugin_on_a_live_socket_exits_2(short_tmp: Path) -> None:
    async with PluginProcess(short_tmp / "a") as first:
        second = PluginProcess(short_tmp / "b", kms_endpoint=first.kms_endpoint, name="second")
        with pytest.raises(PluginProcessError, match="exited with code 2"):
            await second.start()
        assert second.returncode == 2
        log = second.log_path.read_text()
        assert f"another process is already serving on the KMS socket {first.kms_endpoint}" in log
        assert "Traceback" not in log
        async with KmsV2Client(first.kms_endpoint) as client:  # the first one is untouched
            assert (await client.status()).healthz == "ok"


async def test_sigterm_stops_within_two_seconds_even_with_a_hung_call(short_tmp: Path) -> None:
    plugin = PluginProcess(short_tmp / "p")
    await plugin.start()
    try:
        async with PluginControlClient(plugin.control_endpoint) as ctl:
            await ctl.set_outage("hang")
        client = KmsV2Client(plugin.kms_endpoint, timeout=10)
        hung = asyncio.create_task(client.status())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        os.kill(plugin.pid or 0, signal.SIGTERM)
        code = await plugin.wait(timeout=5)
        elapsed = time.monotonic() - started
        assert code == 0 and elapsed < 2.0, elapsed
        hung.cancel()
        await asyncio.gather(hung, return_exceptions=True)
        await client.close()
        with pytest.raises(FileNotFoundError):  # a clean stop removes the socket
            os.stat(plugin.kms_endpoint.removeprefix("unix://"))
        assert "stopped" in plugin.log_path.read_text()
    finally:
        await plugin.stop()


async def test_a_non_socket_file_is_never_removed(short_tmp: Path) -> None:
    (short_tmp / "s").mkdir()
    blocker = short_tmp / "s" / "kms.sock"
    blocker.write_text("not a socket")
    plugin = PluginProcess(short_tmp / "p", kms_endpoint=f"unix://{blocker}")
    with pytest.raises(PluginProcessError, match="exists and is not a socket"):
        await plugin.start()
    assert blocker.read_text() == "not a socket"


async def test_a_plugin_starts_while_another_plugins_event_stream_is_open(short_tmp: Path) -> None:
    """Regression: with a preexec_fn, grpcio's fork handlers crashed the new child (-6/-11)."""
    async with PluginProcess(short_tmp / "a", name="a") as first:
        control = PluginControlClient(first.control_endpoint)
        events = control.watch_events(replay=10)
        try:
            async with KmsV2Client(first.kms_endpoint) as client:
                await client.encrypt(b"k" * 32, uid())
            seen = await asyncio.wait_for(anext(events), 5)  # the stream is open and delivering
            assert isinstance(seen, PluginCall)
            async with PluginProcess(short_tmp / "b", name="b") as second:
                assert second.running
                async with KmsV2Client(second.kms_endpoint) as client:
                    assert (await client.status()).healthz == "ok"
            async with KmsV2Client(first.kms_endpoint) as client:  # and the stream still works
                await client.encrypt(b"k" * 32, uid())
            assert isinstance(await asyncio.wait_for(anext(events), 5), PluginCall)
        finally:
            await events.aclose()
            await control.close()


def test_exit_with_parent_of_a_missing_process_is_refused(short_tmp: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "plugin", "serve", "--listen", f"unix://{short_tmp}/k.sock",
         "--state-dir", str(short_tmp / "s"), "--exit-with-parent", "999999999"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--exit-with-parent 999999999: no such process" in done.stderr
    assert "Traceback" not in done.stderr


async def test_plugin_stops_when_the_watched_process_exits(short_tmp: Path) -> None:
    """Any pid works, not only the parent's: a pidfd (or polling) sees it go."""
    sleeper = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        plugin = PluginProcess(short_tmp / "p", extra_args=("--exit-with-parent", str(sleeper.pid)))
        await plugin.start()
        try:
            sleeper.kill()
            await sleeper.wait()
            code = await plugin.wait(timeout=5)
            assert code == 0, plugin.log_tail()  # a graceful stop, not a kill
            assert "parent process went away" in plugin.log_path.read_text()
        finally:
            await plugin.stop()
    finally:
        if sleeper.returncode is None:
            sleeper.kill()
            await sleeper.wait()


def test_no_orphan_when_the_parent_is_killed(short_tmp: Path) -> None:
    """A launcher that dies by SIGKILL (no cleanup at all) must not leave the plugin running."""
    pid_file = short_tmp / "plugin.pid"
    launcher = textwrap.dedent(f"""
        import asyncio, pathlib, time
        from sandbox.kms.process import PluginProcess
        async def main():
            p = PluginProcess(pathlib.Path({str(short_tmp / "p")!r}))
            await p.start()
            pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))
            while True:
                await asyncio.sleep(1)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", launcher])
    try:
        deadline = time.monotonic() + 15
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        plugin_pid = int(pid_file.read_text())
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(plugin_pid):
            time.sleep(0.05)
        assert not _alive(plugin_pid)
    finally:
        proc.kill()
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
