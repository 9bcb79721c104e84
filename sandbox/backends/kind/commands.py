"""Run kind, docker (or podman) and kubectl as asyncio subprocesses.

Every external command of the kind backend goes through `CommandRunner.run`, which gives one
place to time out, to stream progress lines, to keep a transcript for bug reports, and to turn
a missing executable into a clear message. Tests put fake `kind`/`docker`/`kubectl` scripts
first on PATH; the runner does not know or care.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Progress = Callable[[str], None]


class CommandError(Exception):
    """A command failed or could not start; the message names it and ends with its stderr tail."""

    def __init__(self, message: str, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")

    def stderr_tail(self, lines: int = 5) -> str:
        tail = self.stderr.decode(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(line.strip() for line in tail if line.strip())


@dataclass
class CommandRunner:
    """Runs commands with an optional PATH and environment; records what ran."""

    env: Mapping[str, str] | None = None
    """Extra environment (e.g. KUBECONFIG); PATH here replaces the inherited one."""
    transcript: list[CommandResult] = field(default_factory=list)
    docker: str = "docker"
    """The container CLI: "docker" or "podman" (kind's KIND_EXPERIMENTAL_PROVIDER)."""

    def _environment(self) -> dict[str, str]:
        merged = dict(os.environ)
        if self.env:
            merged.update(self.env)
        if self.docker == "podman":
            merged.setdefault("KIND_EXPERIMENTAL_PROVIDER", "podman")
        return merged

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self._environment().get("PATH"))

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 120.0,
        check: bool = True,
        progress: Progress | None = None,
    ) -> CommandResult:
        """Runs `argv`; with `progress`, stderr lines are handed over as they arrive (kind's steps)."""
        env = self._environment()
        executable = shutil.which(argv[0], path=env.get("PATH"))
        if executable is None:
            raise CommandError(f"{argv[0]} is not on PATH")
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            executable,
            *argv[1:],
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await self._communicate(proc, input, progress)
        except TimeoutError:
            await _kill(proc)
            raise CommandError(f"{' '.join(argv[:3])} did not finish within {timeout:.0f} s") from None
        except BaseException:
            await _kill(proc)  # Ctrl-C or cancellation: leave no child behind
            raise
        result = CommandResult(tuple(argv), proc.returncode or 0, stdout, stderr, time.monotonic() - started)
        self.transcript.append(result)
        if check and not result.ok:
            raise CommandError(
                f"{' '.join(argv[:3])} failed (exit {result.returncode}): {result.stderr_tail()}", result
            )
        return result

    async def _communicate(
        self, proc: asyncio.subprocess.Process, input: bytes | None, progress: Progress | None
    ) -> tuple[bytes, bytes]:
        if progress is None:
            return await proc.communicate(input)
        assert proc.stdout is not None and proc.stderr is not None
        if input is not None and proc.stdin is not None:
            proc.stdin.write(input)
            await proc.stdin.drain()
            proc.stdin.close()
        stderr_lines: list[bytes] = []

        async def pump_stderr() -> None:
            assert proc.stderr is not None
            async for line in proc.stderr:
                stderr_lines.append(line)
                text = line.decode(errors="replace").strip()
                if text:
                    progress(text)

        pump = asyncio.create_task(pump_stderr())
        stdout = await proc.stdout.read()
        await pump
        await proc.wait()
        return stdout, b"".join(stderr_lines)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 9)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 5)
