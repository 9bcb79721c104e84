"""`PluginControlClient`: the async Python API over the plugin's control socket.

Scenarios, the simulator's UI panels and `kms-sandbox plugin ...` use it to rotate and retire
KEKs, make Status lie, inject outages and faults, set the remote-KMS latency model, and follow
every KMS call as `sandbox.core.events` events. Unlike the KMS clients it fails fast (no
wait-for-ready): a control command against a plugin that is not running should say so at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

import grpc

from sandbox._proto.control.v1 import control_pb2 as pb
from sandbox._proto.control.v1 import control_pb2_grpc as pb_grpc
from sandbox.core.events import PluginCall, PluginStateChanged
from sandbox.core.rpc_errors import UnknownCodeError, grpc_code_name
from sandbox.kms import control_convert as convert
from sandbox.kms.client import KmsRpcError, rpc_error_from_grpc
from sandbox.kms.endpoint import parse_endpoint
from sandbox.kms.model import (
    KEY_ID_MODES,
    AnnotationOverride,
    Fault,
    HealthOverride,
    OutageMode,
    PluginStateView,
)

__all__ = ["KmsRpcError", "PluginControlClient", "PluginStateView"]


class PluginControlClient:
    def __init__(self, endpoint: str, *, timeout: float = 5.0, source: str = "plugin") -> None:
        self.endpoint = parse_endpoint(endpoint)
        self.timeout = timeout
        self.source = source
        """The `source` stamped on events from this plugin ("plugin", "plugin-1", ...)."""
        # Dialled on first use, so the client can be built outside a running event loop.
        self._channel: grpc.aio.Channel | None = None
        self._stub_cache: Any = None

    @property
    def _stub(self) -> Any:
        if self._stub_cache is None:
            self._channel = grpc.aio.insecure_channel(self.endpoint.grpc_target)
            self._stub_cache = cast(Any, pb_grpc).PluginControlStub(self._channel)
        return self._stub_cache

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise rpc_error_from_grpc(exc) from None

    async def get_state(self) -> PluginStateView:
        return convert.state_from_proto(await self._call("GetState", pb.GetStateRequest()))

    async def rotate(self) -> str:
        """Makes a new KEK current at once; returns its key_id."""
        resp = await self._call("Rotate", pb.RotateRequest())
        return str(resp.key_id)

    async def retire(self, key_id: str) -> None:
        await self._call("Retire", pb.RetireRequest(key_id=key_id))

    async def set_health(
        self, healthz: str = "ok", key_id_mode: str = "real", custom_key_id: str = "", version: str = ""
    ) -> PluginStateView:
        if key_id_mode not in KEY_ID_MODES:
            raise ValueError(
                f"unknown key_id mode {key_id_mode!r}; expected one of {', '.join(KEY_ID_MODES)}"
            )
        health = HealthOverride(healthz, key_id_mode, custom_key_id, version)
        return convert.state_from_proto(await self._call("SetHealth", convert.health_to_proto(health)))

    async def set_outage(self, mode: OutageMode | str) -> PluginStateView:
        request = pb.SetOutageRequest(mode=convert.outage_to_proto(mode))
        return convert.state_from_proto(await self._call("SetOutage", request))

    async def add_fault(
        self,
        method: str,
        *,
        latency_ms: float = 0,
        code: str = "",
        message: str = "",
        count: int = 0,
        probability: float = 0,
    ) -> PluginStateView:
        """`code` may be a gRPC name ("INTERNAL") or a Go name ("Internal")."""
        if code:
            try:
                code = grpc_code_name(code)
            except UnknownCodeError as exc:
                raise ValueError(str(exc)) from None
        fault = Fault(method, latency_ms, code, message, count, probability)
        return convert.state_from_proto(await self._call("AddFault", convert.fault_to_proto(fault)))

    async def clear_faults(self) -> PluginStateView:
        return convert.state_from_proto(await self._call("ClearFaults", pb.ClearFaultsRequest()))

    async def set_remote_latency(self, encrypt_ms: float, decrypt_ms: float) -> PluginStateView:
        request = pb.SetRemoteLatencyRequest(encrypt_ms=encrypt_ms, decrypt_ms=decrypt_ms)
        return convert.state_from_proto(await self._call("SetRemoteLatency", request))

    async def set_keyring_sync(self, paused: bool) -> PluginStateView:
        """paused=True makes this instance lag: it keeps its in-memory keyring (old key_id, no
        newer KEKs) and ignores changes other replicas make, until called with False."""
        request = pb.SetKeyringSyncRequest(paused=paused)
        return convert.state_from_proto(await self._call("SetKeyringSync", request))

    async def set_annotations(self, extra: Mapping[str, bytes], replace: bool = False) -> PluginStateView:
        """Makes Encrypt return `extra` besides (or, with `replace`, instead of) the plugin's own
        annotation, e.g. {"http://foo.example.com": b"1"} or a 32 KiB value, so the apiserver's
        "failed to validate annotations" shows (ENV-4). Decrypt ignores annotations it does not
        know. Raises KmsRpcError (InvalidArgument) for an empty key or an absurd size."""
        request = convert.annotations_to_proto(AnnotationOverride(dict(extra), replace))
        return convert.state_from_proto(await self._call("SetAnnotations", request))

    async def clear_annotations(self) -> PluginStateView:
        """Encrypt returns only the plugin's own annotation again."""
        return await self.set_annotations({})

    async def reset_counters(self) -> PluginStateView:
        return convert.state_from_proto(await self._call("ResetCounters", pb.ResetCountersRequest()))

    async def watch_events(
        self, replay: int = 100, *, follow: bool = True
    ) -> AsyncGenerator[PluginCall | PluginStateChanged, None]:
        """The last `replay` events, then (with `follow`) every new one until the plugin stops."""
        call = self._stub.WatchEvents(pb.WatchEventsRequest(replay=replay, follow=follow))
        try:
            async for msg in call:
                yield convert.event_from_proto(msg, self.source)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise rpc_error_from_grpc(exc) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None
            self._stub_cache = None

    async def __aenter__(self) -> PluginControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
