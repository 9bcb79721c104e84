"""The bundled plugin for each control-plane node, run on the host (Linux placement).

Each node gets its own plugin instance and its own socket directory (HA lessons need one seed
per apiserver and one plugin to fail at a time). Two owners are possible:

- `HostPlugins`: `PluginProcess` children of this process, owned by a backend run; they stop
  with it (the UI's exit leaves no plugin behind).
- the plugin daemon (`python -m sandbox.backends.kind.plugin_daemon`): started by
  `kms-sandbox cluster up` so the cluster stays usable after the command returns, recorded in
  `<state>/plugins.pid`, stopped by `kms-sandbox cluster down`. A backend finding it running
  uses its sockets and leaves it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sandbox.backends.kind.render import ClusterSpec
from sandbox.kms.process import PluginProcess


class PluginStartError(Exception):
    """A host plugin did not come up; the message ends with its log tail."""


def control_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def prepare_dirs(spec: ClusterSpec) -> None:
    for index in range(spec.control_planes):
        spec.host_socket_dir(index).mkdir(parents=True, exist_ok=True, mode=0o755)


class HostPlugins:
    """One `PluginProcess` per control-plane node, children of this process."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.processes = [
            PluginProcess(
                spec.host_node_dir(i),
                api=spec.plugin_api,
                kms_endpoint=f"unix://{spec.host_socket_file(i)}",
                control_endpoint=f"unix://{spec.host_control_socket(i)}",
                name="plugin",
            )
            for i in range(spec.control_planes)
        ]

    def _indexes(self, index: int | None) -> list[int]:
        return list(range(len(self.processes))) if index is None else [index]

    async def start(self, index: int | None = None) -> None:
        prepare_dirs(self.spec)
        for i in self._indexes(index):
            if not self.processes[i].running:
                await self.processes[i].start()

    async def stop(self, index: int | None = None) -> None:
        for i in self._indexes(index):
            await self.processes[i].stop()

    def running(self, index: int) -> bool:
        return self.processes[index].running

    def logs(self) -> dict[str, str]:
        out = {}
        for i, proc in enumerate(self.processes):
            with contextlib.suppress(OSError):
                out[f"plugin-{i}"] = proc.log_path.read_text(errors="replace")
        return out


# --- the detached daemon `cluster up` leaves behind ---------------------------------------------


def daemon_pidfile(spec: ClusterSpec) -> Path:
    return spec.state_dir / "plugins.pid"


def daemon_pid(spec: ClusterSpec) -> int | None:
    """The daemon's pid if it is alive (a stale pidfile is removed)."""
    path = daemon_pidfile(spec)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return pid


def start_daemon(spec: ClusterSpec, timeout: float = 20.0) -> int:
    """Starts the plugin daemon for `spec` unless one runs; returns its pid once all plugins answer."""
    pid = daemon_pid(spec)
    if pid is not None:
        return pid
    prepare_dirs(spec)
    log = spec.state_dir / "plugins-daemon.log"
    argv = [
        sys.executable, "-m", "sandbox.backends.kind.plugin_daemon",
        "--state-dir", str(spec.state_dir), "--name", spec.name,
        "--control-planes", str(spec.control_planes), "--api", spec.plugin_api,
    ]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    # Recorded at once, not when the daemon is ready: a failure right after this must still stop it.
    daemon_pidfile(spec).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PluginStartError(f"the plugin daemon exited with code {proc.returncode}: {_tail(log)}")
        if all(control_answers(spec.host_control_socket(i)) for i in range(spec.control_planes)):
            return proc.pid
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise PluginStartError(f"the plugin daemon did not open its sockets within {timeout:.0f} s: {_tail(log)}")


async def stop_daemon(spec: ClusterSpec, timeout: float = 10.0) -> bool:
    """SIGTERM to the daemon's process group (it stops its plugins); True if one was running."""
    pid = daemon_pid(spec)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 - WNOHANG never blocks; reaps our own zombie
        try:
            os.kill(pid, 0)
        except OSError:
            break
        await asyncio.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        daemon_pidfile(spec).unlink()
    return True


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no log)"
