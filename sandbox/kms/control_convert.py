"""Translation between `control.proto` messages and the plain dataclasses of `sandbox.kms.model`.

Shared by the control servicer (model -> proto) and the control client (proto -> model), so the
two directions cannot drift apart.
"""

from __future__ import annotations

from typing import Any, cast

from sandbox._proto.control.v1 import control_pb2 as pb
from sandbox.core.events import Event, PluginCall, PluginStateChanged
from sandbox.kms.model import (
    OUTAGE_MODES,
    AnnotationOverride,
    Fault,
    HealthOverride,
    KeyIdMode,
    KeyView,
    OutageMode,
    PluginStateView,
)

_KEY_ID_MODES: dict[str, Any] = {
    "real": pb.SetHealthRequest.KEY_ID_REAL,
    "empty": pb.SetHealthRequest.KEY_ID_EMPTY,
    "too-long": pb.SetHealthRequest.KEY_ID_TOO_LONG,
    "custom": pb.SetHealthRequest.KEY_ID_CUSTOM,
}
_KEY_ID_MODE_NAMES = {v: k for k, v in _KEY_ID_MODES.items()}
_OUTAGES: dict[str, int] = {
    "none": pb.OUTAGE_NONE,
    "unavailable": pb.OUTAGE_UNAVAILABLE,
    "hang": pb.OUTAGE_HANG,
}
_OUTAGE_NAMES = {v: k for k, v in _OUTAGES.items()}


def outage_to_proto(mode: str) -> Any:
    if mode not in _OUTAGES:
        raise ValueError(f"unknown outage mode {mode!r}; expected one of {', '.join(OUTAGE_MODES)}")
    return _OUTAGES[mode]


def outage_from_proto(value: int) -> OutageMode:
    return cast(OutageMode, _OUTAGE_NAMES.get(value, "none"))


def health_to_proto(health: HealthOverride) -> pb.SetHealthRequest:
    return pb.SetHealthRequest(
        healthz="" if health.healthz == "ok" else health.healthz,
        key_id_mode=_KEY_ID_MODES[health.key_id_mode],
        custom_key_id=health.custom_key_id,
        version_override=health.version,
    )


def health_from_proto(msg: pb.SetHealthRequest) -> HealthOverride:
    mode = cast(KeyIdMode, _KEY_ID_MODE_NAMES.get(msg.key_id_mode, "real"))
    return HealthOverride(
        healthz=msg.healthz or "ok",
        key_id_mode=mode,
        custom_key_id=msg.custom_key_id,
        version=msg.version_override,
    )


def fault_to_proto(fault: Fault) -> pb.Fault:
    return pb.Fault(
        method=fault.method,
        latency_ms=fault.latency_ms,
        code=fault.code,
        message=fault.message,
        count=fault.count,
        probability=fault.probability,
        id=fault.id,
    )


def fault_from_proto(msg: pb.Fault) -> Fault:
    return Fault(
        method=msg.method,
        latency_ms=msg.latency_ms,
        code=msg.code,
        message=msg.message,
        count=msg.count,
        probability=msg.probability,
        id=msg.id,
    )


def annotations_to_proto(override: AnnotationOverride) -> pb.SetAnnotationsRequest:
    return pb.SetAnnotationsRequest(extra=dict(override.extra), replace=override.replace)


def annotations_from_proto(msg: pb.SetAnnotationsRequest) -> AnnotationOverride:
    return AnnotationOverride(dict(msg.extra), msg.replace)


def state_to_proto(view: PluginStateView) -> pb.PluginState:
    return pb.PluginState(
        api=view.api,
        current_key_id=view.current_key_id,
        keys=[pb.KeyInfo(key_id=k.key_id, created_unix=k.created, current=k.current) for k in view.keys],
        retired_key_ids=list(view.retired_key_ids),
        health=health_to_proto(view.health),
        outage=outage_to_proto(view.outage),
        faults=[fault_to_proto(f) for f in view.faults],
        counters=[pb.CallCounter(method=m, code=c, count=n) for (m, c), n in sorted(view.counters.items())],
        remote_latency=pb.SetRemoteLatencyRequest(
            encrypt_ms=view.remote_latency_ms[0], decrypt_ms=view.remote_latency_ms[1]
        ),
        listen=view.listen,
        started_unix=view.started,
        pid=view.pid,
        keyring_sync_paused=view.keyring_sync_paused,
        annotations=annotations_to_proto(view.annotations),
    )


def state_from_proto(msg: pb.PluginState) -> PluginStateView:
    return PluginStateView(
        api=msg.api,
        current_key_id=msg.current_key_id,
        keys=tuple(KeyView(k.key_id, k.created_unix, k.current) for k in msg.keys),
        retired_key_ids=tuple(msg.retired_key_ids),
        health=health_from_proto(msg.health),
        outage=outage_from_proto(msg.outage),
        faults=tuple(fault_from_proto(f) for f in msg.faults),
        counters={(c.method, c.code): c.count for c in msg.counters},
        remote_latency_ms=(msg.remote_latency.encrypt_ms, msg.remote_latency.decrypt_ms),
        listen=msg.listen,
        started=msg.started_unix,
        pid=msg.pid,
        keyring_sync_paused=msg.keyring_sync_paused,
        annotations=annotations_from_proto(msg.annotations),
    )


def event_to_proto(seq: int, event: Event) -> pb.PluginEvent:
    if isinstance(event, PluginCall):
        return pb.PluginEvent(
            seq=seq,
            time_unix=event.time,
            kind="call",
            method=event.method,
            uid=event.uid,
            key_id=event.key_id,
            annotation_keys=list(event.annotation_keys),
            request_bytes=event.request_bytes,
            response_bytes=event.response_bytes,
            latency_ms=event.latency_ms,
            code=event.code,
            message=event.message,
        )
    if isinstance(event, PluginStateChanged):
        return pb.PluginEvent(
            seq=seq,
            time_unix=event.time,
            kind=event.change,
            detail=event.detail,
            current_key_id=event.current_key_id,
        )
    raise TypeError(f"not a plugin event: {type(event).__name__}")


def event_from_proto(msg: pb.PluginEvent, source: str = "plugin") -> PluginCall | PluginStateChanged:
    if msg.kind == "call":
        return PluginCall(
            time=msg.time_unix,
            source=source,
            method=msg.method,
            uid=msg.uid,
            key_id=msg.key_id,
            annotation_keys=tuple(msg.annotation_keys),
            request_bytes=msg.request_bytes,
            response_bytes=msg.response_bytes,
            latency_ms=msg.latency_ms,
            code=msg.code,
            message=msg.message,
        )
    return PluginStateChanged(
        time=msg.time_unix,
        source=source,
        change=msg.kind,
        detail=msg.detail,
        current_key_id=msg.current_key_id,
    )
