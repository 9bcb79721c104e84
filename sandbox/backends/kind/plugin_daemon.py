"""`python -m sandbox.backends.kind.plugin_daemon`: keep a kind cluster's host plugins running.

Started detached by `kms-sandbox cluster up` (Linux, plugin on the host). It runs one plugin
per control-plane node as its own children, writes `<state>/plugins.pid`, and on SIGTERM or
SIGINT stops them and removes the pidfile. Its children die with it (PR_SET_PDEATHSIG and the
plugin's parent-pid watchdog), so `cluster down` stopping the daemon leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path

from sandbox.backends.kind.images import DEFAULT_NODE_IMAGE
from sandbox.backends.kind.plugins import HostPlugins, daemon_pidfile
from sandbox.backends.kind.render import ClusterSpec


async def serve(spec: ClusterSpec) -> None:
    plugins = HostPlugins(spec)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await plugins.start()
        daemon_pidfile(spec).write_text(f"{os.getpid()}\n")  # also written by start_daemon
        print(
            f"plugin daemon {os.getpid()}: {spec.control_planes} plugin(s) for cluster {spec.name}",
            flush=True,
        )
        while not stop.is_set():
            # A plugin that died (killed by a lesson) is not restarted here: the backend decides.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await plugins.stop()
        with contextlib.suppress(OSError):
            daemon_pidfile(spec).unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.backends.kind.plugin_daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--control-planes", type=int, default=1)
    parser.add_argument("--api", default="v2")
    args = parser.parse_args(argv)
    spec = ClusterSpec(
        name=args.name,
        image=DEFAULT_NODE_IMAGE,  # unused here: the daemon only needs the host-side paths
        state_dir=args.state_dir,
        control_planes=args.control_planes,
        plugin_api=args.api,
    )
    asyncio.run(serve(spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
