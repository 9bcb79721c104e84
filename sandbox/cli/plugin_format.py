"""How `kms-sandbox plugin status|events` print plugin state and events (text or JSON)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from sandbox.core.events import Event, PluginCall, PluginStateChanged
from sandbox.kms.model import AnnotationOverride, PluginStateView


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


PREVIEW_CHARS = 40


def _preview(value: bytes) -> str:
    text = value[:PREVIEW_CHARS].decode(errors="backslashreplace")
    return text + "..." if len(value) > PREVIEW_CHARS else text


def annotations_text(override: AnnotationOverride) -> str:
    """One line: what Encrypt adds to (or puts in place of) the plugin's own annotation."""
    if override.is_default:
        return "the plugin's own only (version.kms-sandbox.dev)"
    shown = ", ".join(f"{k}={_preview(v)!r} ({len(v)} B)" for k, v in sorted(override.extra.items()))
    if override.replace:
        return f"only {shown}" if shown else "none at all"
    return f"the plugin's own plus {shown}"


def state_dict(state: PluginStateView) -> dict[str, Any]:
    out = dataclasses.asdict(state)
    # Values are bytes (and may be 32 KiB): give sizes and a short text preview, not the bytes.
    out["annotations"] = {
        "replace": state.annotations.replace,
        "extra": {k: {"bytes": len(v), "preview": _preview(v)} for k, v in state.annotations.extra.items()},
    }
    out["counters"] = [{"method": m, "code": c, "count": n} for (m, c), n in sorted(state.counters.items())]
    out["remote_latency_ms"] = {"encrypt": state.remote_latency_ms[0], "decrypt": state.remote_latency_ms[1]}
    return out


def state_json(state: PluginStateView) -> str:
    return json.dumps(state_dict(state), indent=2)


def state_text(state: PluginStateView) -> str:
    lines = [
        f"plugin      pid {state.pid}, api {state.api}, listening on {state.listen}",
        f"started     {_when(state.started)}",
        f"current key {state.current_key_id}",
        "keys:",
    ]
    for key in state.keys:
        marker = "*" if key.current else " "
        lines.append(f"  {marker} {key.key_id}  created {_when(key.created)}")
    if state.retired_key_ids:
        lines.append("retired:    " + ", ".join(state.retired_key_ids))
    h = state.health
    if h.is_default:
        lines.append("health      truthful (healthz ok, real key_id, api version)")
    else:
        shown = f"custom:{h.custom_key_id}" if h.key_id_mode == "custom" else h.key_id_mode
        version = h.version or "(api default)"
        lines.append(f"health      overridden: healthz={h.healthz!r} key_id={shown} version={version}")
    lines.append(f"outage      {state.outage}")
    lines.append(f"annotations {annotations_text(state.annotations)}")
    if state.keyring_sync_paused:
        lines.append("keyring     LAGGING: ignoring changes other replicas make to the shared keyring")
    enc, dec = state.remote_latency_ms
    lines.append(f"remote KMS  Encrypt {enc} ms, Decrypt {dec} ms")
    if state.faults:
        lines.append("faults:")
        for f in state.faults:
            lines.append(
                f"  {f.id}: {f.method} latency={f.latency_ms}ms code={f.code or '-'} "
                f"count={f.count or 'until cleared'} probability={f.probability or 'always'}"
            )
    else:
        lines.append("faults      none")
    if state.counters:
        lines.append("calls:")
        for (method, code), count in sorted(state.counters.items()):
            lines.append(f"  {method:8} {code:20} {count}")
    else:
        lines.append("calls       none yet")
    return "\n".join(lines)


def event_line(event: Event, *, as_json: bool = False) -> str:
    if as_json:
        return json.dumps(event.to_dict(), separators=(",", ":"))
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time)) + f".{int(event.time * 1000) % 1000:03d}"
    if isinstance(event, PluginCall):
        text = (
            f"{stamp} {event.method:8} {event.code:18} {event.latency_ms:8.2f}ms uid={event.uid or '-'} "
            f"key_id={event.key_id or '-'} req={event.request_bytes}B resp={event.response_bytes}B"
        )
        if event.annotation_keys:
            text += " annotations=" + ",".join(event.annotation_keys)
        if event.message:
            text += f" error={event.message!r}"
        return text
    if isinstance(event, PluginStateChanged):
        return f"{stamp} [{event.change}] {event.detail} (current key {event.current_key_id})".replace(
            "  ", " "
        )
    return f"{stamp} {event.kind}"
