"""Process supervision with ordinary shell children: no binaries needed, no orphans allowed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandbox.backends.local.processes import ProcessError, spawn, stop, supervised, wait_until_ready


def _alive(pid: int) -> bool:
    """True for a running process; a zombie (dead, unreaped by init yet) counts as gone."""
    stat_file = Path(f"/proc/{pid}/stat")
    try:
        state = stat_file.read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_stop_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    proc = await spawn("sh", ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"], tmp_path / "sh.log")
    try:
        async with asyncio.timeout(5):
            while not pid_file.exists() or not pid_file.read_text().strip():
                await asyncio.sleep(0.05)
        grandchild = int(pid_file.read_text())
    finally:
        await stop(proc, grace=5)
    await asyncio.sleep(0.2)
    assert not _alive(grandchild)
    assert proc.process.returncode is not None


async def test_sigterm_ignored_then_sigkill(tmp_path: Path) -> None:
    proc = await spawn(
        "stubborn", ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"], tmp_path / "s.log"
    )
    await asyncio.sleep(0.2)
    code = await stop(proc, grace=0.5)
    assert code == -9


async def test_early_exit_reports_log_tail(tmp_path: Path) -> None:
    proc = await spawn("failing", ["sh", "-c", "echo boom-from-child; exit 3"], tmp_path / "f.log")

    async def never() -> bool:
        return False

    async with supervised(proc):
        with pytest.raises(ProcessError, match=r"exited with code 3[\s\S]*boom-from-child"):
            await wait_until_ready(proc, never, timeout=10)


async def test_not_ready_times_out(tmp_path: Path) -> None:
    proc = await spawn("sleeper", ["sleep", "30"], tmp_path / "z.log")

    async def never() -> bool:
        return False

    async with supervised(proc, grace=1):
        with pytest.raises(ProcessError, match="not ready after"):
            await wait_until_ready(proc, never, timeout=0.3, interval=0.05)
    assert proc.process.returncode is not None


async def test_children_die_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the spawning process (no cleanup code runs) still takes the child down."""
    import signal
    import sys

    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from sandbox.backends.local.processes import spawn\n"
        "async def main():\n"
        f"    proc = await spawn('sleeper', ['sleep', '300'], Path({str(tmp_path / 'c.log')!r}))\n"
        "    print(proc.pid, flush=True)\n"
        "    await asyncio.sleep(300)\n"
        "asyncio.run(main())\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    child = int((await asyncio.wait_for(parent.stdout.readline(), 20)).decode())
    await asyncio.sleep(0.3)  # the launcher has exec'd sleep by now
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    async with asyncio.timeout(5):
        while _alive(child):
            await asyncio.sleep(0.05)
