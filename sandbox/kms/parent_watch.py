"""Wait for another process to exit: how a plugin started with `--exit-with-parent PID` stops.

`PluginProcess` used to tie the plugin to its launcher with PR_SET_PDEATHSIG, set in a
`preexec_fn`. A `preexec_fn` forces CPython to use a real fork(), and grpcio's fork handlers then
crash the child whenever the launcher has a gRPC stream open. So the launcher now spawns plainly
(vfork/posix_spawn, no fork handlers run) and the plugin watches the launcher itself:

- on Linux a pidfd becomes readable the moment the process exits (zombie or reaped), so the
  loop wakes at once and nothing polls;
- elsewhere (or if pidfds are refused) we poll every `poll_s`: `os.kill(pid, 0)` says whether the
  pid exists, and when PID was our parent, a changed `getppid()` says it died even if it has
  not been reaped yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

POLL_S = 0.5


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but it exists
    return True


async def wait_for_exit(pid: int, *, poll_s: float = POLL_S) -> None:
    """Returns once process `pid` has exited (at once if it does not exist)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        await _poll_for_exit(pid, poll_s)  # no pidfds here (not Linux, old kernel, seccomp)
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    try:
        loop.add_reader(fd, on_exit)
    except (NotImplementedError, ValueError, OSError):
        os.close(fd)
        await _poll_for_exit(pid, poll_s)  # a loop without add_reader
        return
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


async def _poll_for_exit(pid: int, poll_s: float) -> None:
    was_parent = os.getppid() == pid
    while process_exists(pid) and not (was_parent and os.getppid() != pid):
        await asyncio.sleep(poll_s)
