"""Pulls what events do not carry into the view model: raw etcd values, health, metrics, keyring.

Each fetcher reads through the backend protocol (or the plugin control API), describes values
with the pure inspector, writes the result into the model and returns the panels to redraw. The
app runs them in exclusive workers, so a burst of events costs one fetch, never one per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sandbox.backends.base import Backend
from sandbox.ui.model import DashboardModel, StoredObject, envelope_metric_lines
from sandbox.ui.session import Session

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport

HEALTH_PATHS = ("/healthz/kms-providers", "/readyz/kms-providers", "/livez")
YIELD_EVERY = 25


def describe(raw: bytes, key: str) -> InspectReport:
    """The inspector's report; raises sandbox.core.errors.DecodeError for bytes it cannot read."""
    from sandbox.core.inspect import inspect_value

    return inspect_value(raw, etcd_key=key)


def stored_object(key: str, raw: bytes) -> StoredObject:
    from sandbox.core.errors import DecodeError

    try:
        report = describe(raw, key)
    except DecodeError:
        return StoredObject(key=key, key_id="?", prefix="undecodable", size=len(raw))
    return StoredObject(
        key=key,
        key_id=report.key_id or "",
        provider=report.provider,
        prefix=report.prefix,
        dek_source_type=report.dek_source_type or "",
        size=len(raw),
    )


async def fetch_objects(
    backend: Backend, model: DashboardModel, keys: Iterable[str] | None = None
) -> set[str]:
    """Re-reads `keys` (all secrets when None) from etcd and describes them with the inspector."""
    if keys is None:
        wanted = await backend.etcd_keys(f"{backend.etcd_prefix()}/secrets/")
        for gone in set(model.objects) - set(wanted):
            del model.objects[gone]
            model.changed_objects.add(gone)
    else:
        wanted = sorted(keys)
    for n, key in enumerate(wanted):
        raw = await backend.etcd_get(key)
        if raw is None:
            model.objects.pop(key, None)
        else:
            model.objects[key] = stored_object(key, raw)
        model.changed_objects.add(key)
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
    if model.selected_key and (keys is None or model.selected_key in wanted):
        await fetch_selected(backend, model, model.selected_key)
    return {"envelope"}


async def fetch_selected(backend: Backend, model: DashboardModel, key: str) -> set[str]:
    model.selected_key = key
    raw = await backend.etcd_get(key)
    if raw is None:
        model.selected_raw, model.selected_report, model.selected_error = None, None, "not in etcd (deleted?)"
    else:
        from sandbox.core.errors import DecodeError

        try:
            model.selected_raw, model.selected_report, model.selected_error = raw, describe(raw, key), ""
        except DecodeError as exc:
            model.selected_raw, model.selected_report, model.selected_error = (
                raw,
                None,
                f"cannot decode: {exc}",
            )
    return {"envelope"}


async def fetch_health(backend: Backend, model: DashboardModel) -> set[str]:
    for path in HEALTH_PATHS:
        result = await backend.health(path)
        model.health_results[path] = (result.code, result.body)
    model.metric_lines = envelope_metric_lines(await backend.metrics())
    return {"health"}


async def fetch_keyring(session: Session, model: DashboardModel) -> set[str]:
    backend = session.backend
    count = backend.plugin_count if backend is not None else 1
    errors = []
    for index in range(count):
        try:
            model.plugin_states[index] = await session.control(index).get_state()
        except Exception as exc:  # a stopped plugin is a lesson, not a crash
            errors.append(f"plugin-{index}: {exc}")
    # Not a panel error: those report the learner's actions, and a background fetch must not
    # overwrite "rotate failed: ..." with its own view of the same dead plugin.
    model.plugin_error = "; ".join(errors)
    return {"keyring"}
