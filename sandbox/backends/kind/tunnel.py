"""A host Unix socket whose connections are carried by a command's stdin/stdout.

For plugins inside kind nodes (Docker Desktop), the control socket lives in the node. The
backend still hands out a host `unix://` control endpoint (the same contract as every other
backend); each connection to it starts `docker exec -i <node> crictl exec -i <plugin container>
python -m sandbox.backends.kind.stdio_bridge <socket>` and copies bytes both ways. That works
while the apiserver is down (no port-forward needed) and publishes no port. The command is a
parameter, so tests run the bridge locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path


class StdioTunnel:
    def __init__(self, socket_path: Path, command: Sequence[str]) -> None:
        self.socket_path = socket_path
        self.command = list(command)
        self._server: asyncio.AbstractServer | None = None
        self._children: set[asyncio.subprocess.Process] = set()

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket_path}"

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # a stale socket from a crashed run
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for child in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        child = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._children.add(child)
        assert child.stdin is not None and child.stdout is not None
        child_in, child_out = child.stdin, child.stdout

        async def client_to_child() -> None:
            while chunk := await reader.read(65536):
                child_in.write(chunk)
                await child_in.drain()
            child_in.close()

        async def child_to_client() -> None:
            while chunk := await child_out.read(65536):
                writer.write(chunk)
                await writer.drain()

        pump = asyncio.create_task(client_to_child())
        try:
            await child_to_client()
        except ConnectionError:
            pass
        finally:
            pump.cancel()
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
            self._children.discard(child)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
