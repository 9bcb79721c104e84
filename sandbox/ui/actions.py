"""Free play: what the learner can do between (or instead of) scripted steps.

Each action is a plain coroutine over the backend protocol and the plugin control client, with
no Textual in sight; the app runs them in workers and reports their one-line outcome. Bulk work
yields to the event loop every few objects so the UI keeps answering keys while 10,000 secrets
are written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sandbox.backends.base import Backend
from sandbox.ui.session import Session

NAMESPACE = "default"
YIELD_EVERY = 10
"""Objects handled between two yields to the UI loop (each create is ~0.1 ms on the simulator)."""

ProgressCallback = Callable[[int, int], None]


def secret_name(index: int) -> str:
    return f"play-{index:05d}"


async def create_secrets(
    backend: Backend, count: int, first: int, progress: ProgressCallback | None = None
) -> str:
    """Creates `count` secrets named play-NNNNN from index `first`; the data is a fixed demo value."""
    failures: list[str] = []
    for n in range(count):
        index = first + n
        result = await backend.create(
            "secrets", NAMESPACE, secret_name(index), {"password": f"demo-{index}".encode()}
        )
        if not result.ok:
            failures.append(f"{secret_name(index)}: {result.message}")
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            if progress is not None:
                progress(n + 1, count)
            await asyncio.sleep(0)
    if failures:
        return f"created {count - len(failures)}/{count} secrets; first failure: {failures[0]}"
    return f"created {count} secret{'s' if count != 1 else ''}"


async def read_all(backend: Backend, apiserver: int = 0) -> str:
    """Reads every secret through the API (each read decrypts; a DEK cache miss calls Decrypt)."""
    listed = await backend.list("secrets", None, apiserver)
    if not listed.ok:
        return f"list failed: {listed.message}"
    failed: list[str] = []
    for n, item in enumerate(listed.items):
        namespace, _, name = item.partition("/")
        result = await backend.get("secrets", namespace, name, apiserver)
        if not result.ok:
            failed.append(f"{item}: {result.message}")
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
    if failed:
        return f"read {len(listed.items) - len(failed)}/{len(listed.items)}; first failure: {failed[0]}"
    return f"read {len(listed.items)} secrets"


async def migrate(backend: Backend) -> str:
    result = await backend.migrate(("secrets",))
    text = f"migrated {result.total} objects, {result.rewritten} rewritten under the current key"
    if result.failed:
        text += f"; {len(result.failed)} failed, first: {result.failed[0]}"
    return text


async def rotate(session: Session) -> str:
    keys = [await session.control(i).rotate() for i in range(_plugins(session))]
    return f"rotated the KEK: new key_id {', '.join(keys)}"


async def retire_previous(session: Session) -> str:
    """Retires the newest non-current KEK of each plugin: data under it becomes unreadable."""
    retired = []
    for i in range(_plugins(session)):
        state = await session.control(i).get_state()
        old = [k for k in sorted(state.keys, key=lambda k: k.created) if not k.current]
        if not old:
            continue
        await session.control(i).retire(old[-1].key_id)
        retired.append(old[-1].key_id)
    return f"retired {', '.join(retired)}" if retired else "nothing to retire: only the current KEK exists"


async def set_outage(session: Session, mode: str) -> str:
    for i in range(_plugins(session)):
        await session.control(i).set_outage(mode)
    return "plugin answers again" if mode == "none" else f"plugin outage: {mode}"


async def toggle_outage(session: Session, mode: str) -> str:
    """Turns outage `mode` on, or off again when the plugin is already in it."""
    state = await session.control(0).get_state()
    return await set_outage(session, "none" if state.outage == mode else mode)


async def set_latency(session: Session, milliseconds: float) -> str:
    for i in range(_plugins(session)):
        await session.control(i).set_remote_latency(milliseconds, milliseconds)
    return f"remote KMS latency {milliseconds:g} ms on Encrypt and Decrypt"


async def restore_plugin(session: Session) -> str:
    for i in range(_plugins(session)):
        control = session.control(i)
        await control.set_outage("none")
        await control.set_health()
        await control.clear_faults()
        await control.set_remote_latency(0, 0)
    return "plugin healthy again: no outage, faults or latency"


async def restart_apiserver(backend: Backend, index: int | None = None) -> str:
    await backend.restart_apiserver(index)
    return "restarted all apiservers" if index is None else f"restarted apiserver-{index}"


async def advance(backend: Backend, seconds: float) -> str:
    await backend.advance(seconds, "jumped from the UI")
    return f"clock +{seconds:g}s"


def _plugins(session: Session) -> int:
    return session.backend.plugin_count if session.backend is not None else 1
