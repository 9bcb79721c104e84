"""The `PluginControl` gRPC service: kms-sandbox's own knobs on a second Unix socket.

A thin translator like the KMS servicers: validation errors from the service core become
INVALID_ARGUMENT / FAILED_PRECONDITION / NOT_FOUND with a message saying what was wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc

from sandbox._proto.control.v1 import control_pb2 as pb
from sandbox._proto.control.v1 import control_pb2_grpc as pb_grpc
from sandbox.core.keyring import KeyringError
from sandbox.core.rpc_errors import UnknownCodeError, grpc_code_name
from sandbox.kms import control_convert as convert
from sandbox.kms.keystore import KeystoreError
from sandbox.kms.model import FAULT_METHODS
from sandbox.kms.service import PluginService

Context = grpc.aio.ServicerContext[Any, Any]


class ControlServicer(pb_grpc.PluginControlServicer):
    def __init__(self, service: PluginService, stopping: asyncio.Event) -> None:
        self._service = service
        self._stopping = stopping

    def _state(self) -> pb.PluginState:
        return convert.state_to_proto(self._service.snapshot())

    async def GetState(self, request: pb.GetStateRequest, context: Context) -> pb.PluginState:  # noqa: N802
        return self._state()

    async def Rotate(self, request: pb.RotateRequest, context: Context) -> pb.RotateResponse:  # noqa: N802
        try:
            new, previous = self._service.rotate()
        except KeyringError as exc:  # lagging instance
            await context.abort(grpc.StatusCode[exc.code], str(exc))
        except KeystoreError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return pb.RotateResponse(key_id=new, previous_key_id=previous)

    async def Retire(self, request: pb.RetireRequest, context: Context) -> pb.RetireResponse:  # noqa: N802
        try:
            self._service.retire(request.key_id)
        except KeyringError as exc:
            await context.abort(grpc.StatusCode[exc.code], str(exc))
        except KeystoreError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return pb.RetireResponse(key_id=request.key_id)

    async def SetKeyringSync(  # noqa: N802
        self, request: pb.SetKeyringSyncRequest, context: Context
    ) -> pb.PluginState:
        self._service.set_keyring_sync(request.paused)
        return self._state()

    async def SetHealth(self, request: pb.SetHealthRequest, context: Context) -> pb.PluginState:  # noqa: N802
        health = convert.health_from_proto(request)
        if health.key_id_mode == "custom" and not health.custom_key_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "key_id mode custom needs a custom_key_id")
        self._service.set_health(health)
        return self._state()

    async def SetOutage(self, request: pb.SetOutageRequest, context: Context) -> pb.PluginState:  # noqa: N802
        self._service.set_outage(convert.outage_from_proto(request.mode))
        return self._state()

    async def AddFault(self, request: pb.Fault, context: Context) -> pb.PluginState:  # noqa: N802
        fault = convert.fault_from_proto(request)
        problem = ""
        if fault.method not in FAULT_METHODS:
            problem = f"unknown method {fault.method!r}; expected one of {', '.join(FAULT_METHODS)}"
        elif fault.latency_ms < 0 or fault.count < 0:
            problem = "latency_ms and count must not be negative"
        elif not 0 <= fault.probability <= 1:
            problem = f"probability {fault.probability} is outside 0..1"
        elif not fault.code and not fault.latency_ms:
            problem = "a fault needs a code, a latency, or both"
        elif fault.code:
            try:
                code = grpc_code_name(fault.code)
            except UnknownCodeError as exc:
                problem = str(exc)
            else:
                if code == "OK":
                    problem = "code OK is not a fault; give an error code such as INTERNAL"
                fault = type(fault)(**{**fault.__dict__, "code": code})
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        self._service.add_fault(fault)
        return self._state()

    async def ClearFaults(self, request: pb.ClearFaultsRequest, context: Context) -> pb.PluginState:  # noqa: N802
        self._service.clear_faults()
        return self._state()

    async def SetRemoteLatency(  # noqa: N802
        self, request: pb.SetRemoteLatencyRequest, context: Context
    ) -> pb.PluginState:
        if request.encrypt_ms < 0 or request.decrypt_ms < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "latencies must not be negative")
        self._service.set_remote_latency(request.encrypt_ms, request.decrypt_ms)
        return self._state()

    async def ResetCounters(self, request: pb.ResetCountersRequest, context: Context) -> pb.PluginState:  # noqa: N802
        self._service.reset_counters()
        return self._state()

    async def SetAnnotations(  # noqa: N802
        self, request: pb.SetAnnotationsRequest, context: Context
    ) -> pb.PluginState:
        try:
            self._service.set_annotations(convert.annotations_from_proto(request))
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._state()

    async def WatchEvents(  # noqa: N802
        self, request: pb.WatchEventsRequest, context: Context
    ) -> AsyncIterator[pb.PluginEvent]:
        past, queue = self._service.watch(max(0, request.replay))
        try:
            for seq, event in past:
                yield convert.event_to_proto(seq, event)
            if not request.follow:
                return
            while not self._stopping.is_set():
                item = await queue.get()
                if item is None:
                    return
                yield convert.event_to_proto(*item)
        finally:
            self._service.unwatch(queue)


def add_control_servicer(server: grpc.aio.Server, service: PluginService, stopping: asyncio.Event) -> None:
    cast(Any, pb_grpc).add_PluginControlServicer_to_server(ControlServicer(service, stopping), server)
