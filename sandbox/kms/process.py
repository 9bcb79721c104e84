"""`PluginProcess`: the bundled plugin as a real child process, for backends, scenarios and tests.

Runs `python -m sandbox plugin serve ...` in its own process group with its log in
`<state_dir>/<name>.log`. It must not outlive us, even if we die by SIGKILL: we pass
`--exit-with-parent <our pid>` and the plugin stops gracefully when we are gone
(`sandbox.kms.parent_watch`).

No `preexec_fn` on purpose (we used to set PR_SET_PDEATHSIG in one): a `preexec_fn` makes
CPython fork() for real, grpcio's fork handlers then run, and they crash the child (SIGSEGV or
SIGABRT, `epoll_wait ... Bad file descriptor`) whenever this process has a gRPC stream open.
Without one, CPython spawns with vfork/posix_spawn and no fork handlers run.
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
from collections.abc import Sequence
from pathlib import Path

from sandbox.kms.endpoint import Endpoint, default_control_endpoint, parse_endpoint

STOP_TIMEOUT_S = 3.0


class PluginProcessError(Exception):
    """The plugin did not start (or stop) as asked; the message includes its log's last lines."""


def _answers(endpoint: Endpoint) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(endpoint.socket_address)
        except OSError:
            return False
        return True


class PluginProcess:
    def __init__(
        self,
        state_dir: Path,
        *,
        api: str = "v2",
        kms_endpoint: str | None = None,
        control_endpoint: str | None = None,
        name: str = "plugin",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.api = api
        self.name = name
        self._kms = parse_endpoint(kms_endpoint or f"unix://{self.state_dir / f'{name}.sock'}")
        self._control = (
            parse_endpoint(control_endpoint) if control_endpoint else default_control_endpoint(self._kms)
        )
        self.extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None

    # --- properties ---------------------------------------------------------------------------

    @property
    def kms_endpoint(self) -> str:
        return self._kms.url

    @property
    def control_endpoint(self) -> str:
        return self._control.url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "sandbox", "plugin", "serve",
            "--listen", self.kms_endpoint,
            "--control", self.control_endpoint,
            "--state-dir", str(self.state_dir),
            "--api", self.api,
            "--exit-with-parent", str(os.getpid()),
            *self.extra_args,
        ]  # fmt: skip

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Starts the plugin; returns once both sockets accept connections."""
        if self.running:
            raise PluginProcessError(f"plugin {self.name} is already running (pid {self.pid})")
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.log_path, "ab") as log:
            # Popen is fast here (vfork + exec, no preexec_fn: see the module docstring).
            self._proc = subprocess.Popen(  # noqa: ASYNC220
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # own process group: Ctrl-C in a terminal goes to us only
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PluginProcessError(
                    f"plugin {self.name} exited with code {self._proc.returncode} while starting: "
                    f"{self.log_tail()}"
                )
            if _answers(self._kms) and _answers(self._control) and await self._control_reports_our_pid():
                return
            await asyncio.sleep(0.02)
        await self.kill()
        raise PluginProcessError(
            f"plugin {self.name} did not open its sockets within {timeout}s: {self.log_tail()}"
        )

    async def _control_reports_our_pid(self) -> bool:
        """True once *our* process answers: a socket answering could be another plugin's."""
        from sandbox.kms.client import KmsRpcError
        from sandbox.kms.control_client import PluginControlClient

        try:
            async with PluginControlClient(self.control_endpoint, timeout=1.0) as control:
                return (await control.get_state()).pid == self.pid
        except KmsRpcError:
            return False

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 3 s. Returns the exit code (None if it never ran)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            if not await self._wait(STOP_TIMEOUT_S):
                self._signal(signal.SIGKILL)
                await self._wait(STOP_TIMEOUT_S)
        return proc.poll()

    async def kill(self) -> None:
        """SIGKILL at once: the socket file stays behind, stale (the PP-9 lesson)."""
        if self._proc is not None and self._proc.poll() is None:
            self._signal(signal.SIGKILL)
            await self._wait(STOP_TIMEOUT_S)

    async def wait(self, timeout: float | None = None) -> int | None:
        """Waits for the process to exit on its own; returns its exit code (None on timeout)."""
        if self._proc is None:
            return None
        await self._wait(timeout if timeout is not None else float("inf"))
        return self._proc.poll()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)  # the whole group: nothing of ours is left behind

    async def _wait(self, timeout: float) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while self._proc.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    async def __aenter__(self) -> PluginProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __del__(self) -> None:
        # Last resort if a caller forgot stop(): never leave a plugin running.
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
