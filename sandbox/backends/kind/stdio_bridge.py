"""`python -m sandbox.backends.kind.stdio_bridge <unix socket>`: join stdin/stdout to a socket.

Runs inside the plugin container of a node (Docker Desktop placement), started by
`docker exec -i <node> crictl exec -i <plugin container> ...` once per control connection:
the plugin's control socket never leaves the node, and no port is published.
"""

from __future__ import annotations

import asyncio
import sys


async def bridge(path: str) -> None:
    reader, writer = await asyncio.open_unix_connection(path)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)

    async def upstream() -> None:
        while chunk := await stdin.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.write_eof()

    async def downstream() -> None:
        out = sys.stdout.buffer
        while chunk := await reader.read(65536):
            out.write(chunk)
            out.flush()

    up = asyncio.create_task(upstream())
    await downstream()  # the plugin closed the connection: we are done
    up.cancel()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m sandbox.backends.kind.stdio_bridge <unix socket path>", file=sys.stderr)
        return 2
    try:
        asyncio.run(bridge(sys.argv[1]))
    except (ConnectionError, FileNotFoundError) as exc:
        print(f"stdio_bridge: cannot reach {sys.argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
