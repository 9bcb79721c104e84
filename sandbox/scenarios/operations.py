"""Carries out one scenario operation against a backend and says what happened.

API errors (HTTP 500 "got unexpected nil transformer", an expired write state) are outcomes a
step may expect, so they are recorded, not raised. Only an operation that cannot be done at all
(a plugin that will not start, a wait that timed out) sets `OpRecord.error`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import yaml

from sandbox.backends.base import OpResult
from sandbox.core import kmsv2_format
from sandbox.core.events import WatchCacheListed
from sandbox.scenarios import model as m
from sandbox.scenarios.context import OpRecord, RunContext


def object_names(op: m.ObjectsOp | m.EnvelopeExpect) -> list[str]:
    """Expands the `name` template over i = start .. start+count-1."""
    if op.count == 1 and "{" not in op.name:
        return [op.name]
    return [op.name.format(i=i) for i in range(op.start, op.start + op.count)]


def etcd_key(backend_prefix: str, kind: str, namespace: str, name: str) -> str:
    return f"{backend_prefix}/{kind}/{namespace}/{name}"


def config_text(config: str | Any) -> str:
    return config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)


async def execute(op: m.Operation, ctx: RunContext) -> OpRecord:
    handler = _HANDLERS[type(op)]
    started_real, started_virtual = time.perf_counter(), ctx.backend.now()
    record = await handler(op, ctx)
    real = time.perf_counter() - started_real
    virtual = ctx.backend.now() - started_virtual
    if ctx.backend.VIRTUAL_TIME and virtual >= 0.001:
        record.summary += f" [{virtual:.1f} s simulated, {real:.2f} s real]"
    elif real >= 0.5:
        record.summary += f" [{real:.1f} s]"
    return record


def _tally(op: m.ObjectsOp, verb: str, results: list[OpResult]) -> str:
    ok = sum(r.ok for r in results)
    what = (
        f"{op.kind[:-1]} {op.namespace}/{object_names(op)[0]}"
        if len(results) == 1
        else f"{len(results)} {op.kind}"
    )
    server = f" via apiserver {op.apiserver}" if op.apiserver else ""
    if ok == len(results):
        return f"{verb} {what}{server}: ok"
    failed = next(r for r in results if not r.ok)
    return (
        f"{verb} {what}{server}: {ok} ok, {len(results) - ok} failed (HTTP {failed.code}: {failed.message})"
    )


def _expand_data(data: Any, i: int) -> dict[str, bytes]:
    return {k: str(v).format(i=i).encode() for k, v in dict(data).items()}


async def _objects(
    op: m.ObjectsOp, ctx: RunContext, verb: str, call: Callable[[str, int], Awaitable[OpResult]]
) -> OpRecord:
    results = []
    for offset, name in enumerate(object_names(op)):
        ctx.touch(etcd_key(ctx.backend.etcd_prefix(), op.kind, op.namespace, name))
        results.append(await call(name, op.start + offset))
    return OpRecord(op.key, op.id, _tally(op, verb, results), results=results)


async def _create(op: m.CreateOp, ctx: RunContext) -> OpRecord:
    async def one(name: str, i: int) -> OpResult:
        data = _expand_data(op.data, i)
        ctx.remember_secrets({k: v.decode() for k, v in data.items()})
        return await ctx.backend.create(op.kind, op.namespace, name, data, apiserver=op.apiserver)

    return await _objects(op, ctx, "create", one)


async def _get(op: m.GetOp, ctx: RunContext) -> OpRecord:
    return await _objects(
        op, ctx, "get", lambda name, _i: ctx.backend.get(op.kind, op.namespace, name, apiserver=op.apiserver)
    )


async def _update(op: m.UpdateOp, ctx: RunContext) -> OpRecord:
    async def one(name: str, i: int) -> OpResult:
        data = None if op.data is None else _expand_data(op.data, i)
        if data:
            ctx.remember_secrets({k: v.decode() for k, v in data.items()})
        return await ctx.backend.update(op.kind, op.namespace, name, data, apiserver=op.apiserver)

    verb = "update" if op.data is not None else "no-op update"
    return await _objects(op, ctx, verb, one)


async def _delete(op: m.DeleteOp, ctx: RunContext) -> OpRecord:
    return await _objects(
        op,
        ctx,
        "delete",
        lambda name, _i: ctx.backend.delete(op.kind, op.namespace, name, apiserver=op.apiserver),
    )


async def _list(op: m.ListOp, ctx: RunContext) -> OpRecord:
    listed = await ctx.backend.list(op.kind, op.namespace or None, apiserver=op.apiserver)
    where = f"in {op.namespace}" if op.namespace else "in all namespaces"
    summary = f"list {op.kind} {where}: " + (
        f"{len(listed.items)} items" if listed.ok else f"HTTP {listed.code}: {listed.message}"
    )
    return OpRecord(op.key, op.id, summary, listed=listed)


async def _migrate(op: m.MigrateOp, ctx: RunContext) -> OpRecord:
    result = await ctx.backend.migrate(tuple(op.kinds), apiserver=op.apiserver)
    summary = (
        f"storage migration of {', '.join(op.kinds)}: {result.total} visited, {result.rewritten} rewritten"
    )
    if result.failed:
        summary += f", {len(result.failed)} failed ({result.failed[0]})"
    return OpRecord(op.key, op.id, summary, migrated=result)


async def _rotate(op: m.RotateKeyOp, ctx: RunContext) -> OpRecord:
    done = []
    for i in ctx.plugin_indices(op.plugin):
        new_key = await ctx.client(i).rotate()
        ctx.record_rotation(i, new_key)
        done.append(f"plugin {i} -> {new_key}")
    return OpRecord(op.key, op.id, "rotate the KEK: " + ", ".join(done))


async def _retire(op: m.RetireKeyOp, ctx: RunContext) -> OpRecord:
    done = []
    for i in ctx.plugin_indices(op.plugin):
        key_id = await ctx.resolve_key(op.key_id, i)
        await ctx.client(i).retire(key_id)
        done.append(f"plugin {i}: {key_id}")
    return OpRecord(op.key, op.id, f"retire the {op.key_id} KEK for good: " + ", ".join(done))


async def _health(op: m.PluginHealthOp, ctx: RunContext) -> OpRecord:
    mode = op.key_id if op.key_id in ("real", "empty", "too-long") else "custom"
    custom = op.key_id if mode == "custom" else ""
    for client in ctx.clients(op.plugin):
        await client.set_health(op.healthz, mode, custom, op.version)
    parts = [f"healthz={op.healthz!r}", f"key_id={op.key_id}"] + (
        [f"version={op.version}"] if op.version else []
    )
    return OpRecord(op.key, op.id, "plugin Status now reports " + ", ".join(parts))


async def _outage(op: m.PluginOutageOp, ctx: RunContext) -> OpRecord:
    for client in ctx.clients(op.plugin):
        await client.set_outage(op.mode)
    return OpRecord(op.key, op.id, f"plugin outage ({op.mode}): KMS calls fail")


async def _restore(op: m.PluginRestoreOp, ctx: RunContext) -> OpRecord:
    for client in ctx.clients(op.plugin):
        await client.set_outage("none")
        await client.set_health()
        await client.clear_faults()
        await client.clear_annotations()
        await client.set_keyring_sync(paused=False)
    return OpRecord(op.key, op.id, "plugin restored: healthy, no outage, no faults, no lag")


async def _fault(op: m.PluginFaultOp, ctx: RunContext) -> OpRecord:
    for client in ctx.clients(op.plugin):
        await client.add_fault(
            op.method,
            latency_ms=op.latency_ms,
            code=op.code,
            message=op.message,
            count=op.times,
            probability=op.probability,
        )
    what = " and ".join(
        p for p in (op.code and f"code {op.code}", op.latency_ms and f"+{op.latency_ms:g} ms") if p
    )
    return OpRecord(op.key, op.id, f"fault on {op.method}: {what or 'none'}")


async def _latency(op: m.PluginLatencyOp, ctx: RunContext) -> OpRecord:
    for client in ctx.clients(op.plugin):
        await client.set_remote_latency(op.encrypt_ms, op.decrypt_ms)
    return OpRecord(
        op.key, op.id, f"remote KMS latency: Encrypt {op.encrypt_ms:g} ms, Decrypt {op.decrypt_ms:g} ms"
    )


async def _lag(op: m.PluginLagOp, ctx: RunContext) -> OpRecord:
    for client in ctx.clients(op.plugin):
        await client.set_keyring_sync(paused=op.paused)
    which = "every plugin replica" if op.plugin == "all" else f"plugin replica {op.plugin}"
    if op.paused:
        return OpRecord(op.key, op.id, f"{which} lags: it keeps its copy of the keyring")
    return OpRecord(op.key, op.id, f"{which} follows the shared keyring again")


async def _stop(op: m.PluginStopOp, ctx: RunContext) -> OpRecord:
    for i in ctx.plugin_indices(op.plugin):
        await ctx.backend.stop_plugin(i)
    return OpRecord(op.key, op.id, "plugin stopped: its socket is gone")


async def _start(op: m.PluginStartOp, ctx: RunContext) -> OpRecord:
    if op.needs_secret:
        namespace, _, name = op.needs_secret.rpartition("/")
        ctx.touch(etcd_key(ctx.backend.etcd_prefix(), "secrets", namespace or "default", name))
        fetched = await ctx.backend.get("secrets", namespace or "default", name)
        if not fetched.ok:
            msg = (
                f"the plugin cannot start: reading its Secret {op.needs_secret} failed:"
                f" HTTP {fetched.code}: {fetched.message}"
            )
            return OpRecord(op.key, op.id, msg, results=[fetched])
    for i in ctx.plugin_indices(op.plugin):
        await ctx.backend.start_plugin(i)
    return OpRecord(
        op.key, op.id, "plugin started" + (f" (read {op.needs_secret})" if op.needs_secret else "")
    )


async def _restart_apiserver(op: m.RestartApiserverOp, ctx: RunContext) -> OpRecord:
    index = None if op.apiserver == "all" else int(op.apiserver)
    # The watch caches' initial LIST runs inside the restart: that is where restart-time
    # Decrypts happen, so say what it decoded (backends that cannot see it publish nothing).
    lists: list[WatchCacheListed] = []
    unsubscribe = ctx.backend.events.subscribe(
        lambda e: lists.append(e) if isinstance(e, WatchCacheListed) else None
    )
    try:
        await ctx.backend.restart_apiserver(index)
    finally:
        unsubscribe()
    which = "every apiserver" if index is None else f"apiserver {index}"
    summary = f"restart {which}: DEK caches and write state are gone"
    decoded = sum(e.objects for e in lists if e.ok)
    if decoded:
        summary += f"; the watch caches' initial LIST decoded {decoded} objects"
    failed = [e for e in lists if not e.ok]
    if failed:
        summary += f"; {len(failed)} initial LIST failed ({failed[0].resource}: {failed[0].error})"
    return OpRecord(op.key, op.id, summary)


async def _set_config(op: m.SetEncryptionConfigOp, ctx: RunContext) -> OpRecord:
    text = await ctx.expand(config_text(op.config))
    await ctx.backend.set_encryption_config(text, op.mode)
    ctx.encryption_config = text
    how = "automatic reload" if op.mode == "reload" else "apiserver restart"
    return OpRecord(op.key, op.id, f"new EncryptionConfiguration ({how})")


async def _rewrite_envelope(op: m.RewriteEnvelopeOp, ctx: RunContext) -> OpRecord:
    key = etcd_key(ctx.backend.etcd_prefix(), op.kind, op.namespace, op.name)
    ctx.touch(key)
    value = await ctx.backend.etcd_get(key)
    if value is None:
        return OpRecord(op.key, op.id, f"rewrite {key}", error=f"{key} is not in etcd")
    provider, obj = kmsv2_format.decode_value(value)
    annotations = padded_annotations(op.annotations, op.pad_annotations_to)
    await ctx.backend.etcd_put(
        key, kmsv2_format.encode_value(provider, replace(obj, annotations=annotations))
    )
    return OpRecord(op.key, op.id, f"rewrite {key} in etcd: {_annotations_phrase(annotations)}")


async def _annotations(op: m.PluginAnnotationsOp, ctx: RunContext) -> OpRecord:
    extra = padded_annotations(op.annotations, op.pad_annotations_to)
    for client in ctx.clients(op.plugin):
        await client.set_annotations(extra)
    if not extra:
        return OpRecord(op.key, op.id, "Encrypt returns only the plugin's own annotation again")
    return OpRecord(op.key, op.id, f"Encrypt also returns {_annotations_phrase(extra)}")


PADDING_KEY = "padding.kms-sandbox.dev"


def padded_annotations(annotations: Mapping[str, str], pad_to: int) -> dict[str, bytes]:
    """`annotations` as bytes, plus a filler so that keys plus values total `pad_to` bytes."""
    out = {k: v.encode() for k, v in annotations.items()}
    used = annotations_size(out)
    if pad_to > used:
        out[PADDING_KEY] = b"x" * max(pad_to - used - len(PADDING_KEY), 0)
    return out


def annotations_size(annotations: Mapping[str, bytes]) -> int:
    """Keys plus values, in bytes: what the apiserver holds against its 32 KiB limit."""
    return sum(len(k.encode()) + len(v) for k, v in annotations.items())


def _annotations_phrase(annotations: Mapping[str, bytes]) -> str:
    return f"annotations {sorted(annotations)} ({annotations_size(annotations)} bytes)"


async def _poll_health(op: m.PollHealthOp, ctx: RunContext) -> OpRecord:
    failing = 0
    for n in range(op.times):
        if n:
            await ctx.backend.advance(op.every, f"next {op.path} request")
        failing += not (await ctx.backend.health(op.path, apiserver=op.apiserver)).ok
    span = _human(op.every * max(op.times - 1, 0))
    return OpRecord(op.key, op.id, f"{op.times} requests to {op.path} over {span}: {failing} failing")


async def _advance(op: m.AdvanceOp, ctx: RunContext) -> OpRecord:
    await ctx.backend.advance(op.by, op.reason or "scenario")
    return OpRecord(op.key, op.id, f"{_human(op.by)} pass" + (f" ({op.reason})" if op.reason else ""))


async def _wait(op: m.WaitOp, ctx: RunContext) -> OpRecord:
    from sandbox.scenarios.expectations import poll

    check, waited = await poll(op.until, ctx, timeout=op.timeout, interval=op.interval)
    if check.ok:
        return OpRecord(op.key, op.id, f"waited {_human(waited)} until {check.description}")
    return OpRecord(
        op.key,
        op.id,
        f"gave up after {_human(waited)} waiting until {check.description}",
        error=f"timed out after {_human(op.timeout)}: expected {check.expected}, observed {check.observed}",
    )


def _human(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:g} s"


_HANDLERS: dict[type[Any], Callable[[Any, RunContext], Awaitable[OpRecord]]] = {
    m.CreateOp: _create,
    m.GetOp: _get,
    m.UpdateOp: _update,
    m.DeleteOp: _delete,
    m.ListOp: _list,
    m.MigrateOp: _migrate,
    m.RotateKeyOp: _rotate,
    m.RetireKeyOp: _retire,
    m.PluginHealthOp: _health,
    m.PluginOutageOp: _outage,
    m.PluginRestoreOp: _restore,
    m.PluginFaultOp: _fault,
    m.PluginLatencyOp: _latency,
    m.PluginLagOp: _lag,
    m.PluginAnnotationsOp: _annotations,
    m.PluginStopOp: _stop,
    m.PluginStartOp: _start,
    m.RestartApiserverOp: _restart_apiserver,
    m.SetEncryptionConfigOp: _set_config,
    m.RewriteEnvelopeOp: _rewrite_envelope,
    m.PollHealthOp: _poll_health,
    m.AdvanceOp: _advance,
    m.WaitOp: _wait,
}
