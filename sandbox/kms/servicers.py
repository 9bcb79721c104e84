"""Thin grpc.aio servicers: KMS protos in, `PluginService` calls, protos or gRPC statuses out.

One class per wire API. v2 and v2alpha1 are wire-identical but live in different proto packages
(so different method paths), hence the same logic bound to two generated base classes. No
crypto and no policy here: that is `sandbox.kms.service`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import grpc

from sandbox._proto.kms.v1beta1 import api_pb2 as v1_pb
from sandbox._proto.kms.v1beta1 import api_pb2_grpc as v1_grpc
from sandbox._proto.kms.v2 import api_pb2 as v2_pb
from sandbox._proto.kms.v2 import api_pb2_grpc as v2_grpc
from sandbox._proto.kms.v2alpha1 import api_pb2 as v2a_pb
from sandbox._proto.kms.v2alpha1 import api_pb2_grpc as v2a_grpc
from sandbox.kms.service import CallOutcome, KmsCallError, PluginService

T = TypeVar("T")

RUNTIME_NAME = "kms-sandbox"
RUNTIME_VERSION = "0.1.0"


async def _answer(
    service: PluginService,
    context: grpc.aio.ServicerContext[Any, Any],
    method: str,
    uid: str,
    request: Any,
    op: Callable[[], CallOutcome[T]],
) -> T:
    """Runs one call through the service pipeline; a KmsCallError becomes a clean gRPC status."""
    try:
        return await service.run(method, uid, request.ByteSize(), op)
    except KmsCallError as exc:
        await context.abort(grpc.StatusCode[exc.code], exc.message)
        raise  # unreachable: abort() raises


class _V2Logic:
    """Status/Encrypt/Decrypt for the v2 message shapes; `pb` is the package's message module."""

    pb: Any

    def __init__(self, service: PluginService) -> None:
        self._service = service

    async def Status(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        def op() -> CallOutcome[Any]:
            out = self._service.status()
            answer = out.value
            resp = self.pb.StatusResponse(
                version=answer.version, healthz=answer.healthz, key_id=answer.key_id
            )
            return CallOutcome(resp, out.key_id, response_bytes=resp.ByteSize())

        return await _answer(self._service, context, "Status", "", request, op)

    async def Encrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        def op() -> CallOutcome[Any]:
            out = self._service.encrypt(request.plaintext, request.uid)
            answer = out.value
            resp = self.pb.EncryptResponse(
                ciphertext=answer.ciphertext, key_id=answer.key_id, annotations=answer.annotations
            )
            return CallOutcome(resp, out.key_id, out.annotation_keys, resp.ByteSize())

        return await _answer(self._service, context, "Encrypt", request.uid, request, op)

    async def Decrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        def op() -> CallOutcome[Any]:
            out = self._service.decrypt(request.ciphertext, request.uid, request.key_id, request.annotations)
            resp = self.pb.DecryptResponse(plaintext=out.value)
            return CallOutcome(resp, out.key_id, out.annotation_keys, resp.ByteSize())

        return await _answer(self._service, context, "Decrypt", request.uid, request, op)


class V2Servicer(_V2Logic, v2_grpc.KeyManagementServiceServicer):
    """Package `v2`: /v2.KeyManagementService/* (Kubernetes 1.27+)."""

    pb = v2_pb


class V2Alpha1Servicer(_V2Logic, v2a_grpc.KeyManagementServiceServicer):
    """Package `v2alpha1`: /v2alpha1.KeyManagementService/* (Kubernetes 1.25/1.26)."""

    pb = v2a_pb


class V1Servicer(v1_grpc.KeyManagementServiceServicer):
    """Package `v1beta1`: Version/Encrypt/Decrypt, each request carrying version "v1beta1"."""

    def __init__(self, service: PluginService) -> None:
        self._service = service

    async def Version(
        self, request: v1_pb.VersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> v1_pb.VersionResponse:
        def op() -> CallOutcome[v1_pb.VersionResponse]:
            self._service.v1_check_version(request.version)
            resp = v1_pb.VersionResponse(
                version=self._service.flavour.version,
                runtime_name=RUNTIME_NAME,
                runtime_version=RUNTIME_VERSION,
            )
            return CallOutcome(resp, response_bytes=resp.ByteSize())

        return await _answer(self._service, context, "Version", "", request, op)

    async def Encrypt(
        self, request: v1_pb.EncryptRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> v1_pb.EncryptResponse:
        def op() -> CallOutcome[v1_pb.EncryptResponse]:
            out = self._service.v1_encrypt(request.version, request.plain)
            resp = v1_pb.EncryptResponse(cipher=out.value)
            return CallOutcome(resp, out.key_id, response_bytes=resp.ByteSize())

        return await _answer(self._service, context, "Encrypt", "", request, op)

    async def Decrypt(
        self, request: v1_pb.DecryptRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> v1_pb.DecryptResponse:
        def op() -> CallOutcome[v1_pb.DecryptResponse]:
            out = self._service.v1_decrypt(request.version, request.cipher)
            resp = v1_pb.DecryptResponse(plain=out.value)
            return CallOutcome(resp, out.key_id, response_bytes=resp.ByteSize())

        return await _answer(self._service, context, "Decrypt", "", request, op)


def add_kms_servicer(server: grpc.aio.Server, service: PluginService) -> None:
    """Registers the servicer the service's API flavour calls for (one package per plugin)."""
    package = service.flavour.package
    if package == "v2":
        cast(Any, v2_grpc).add_KeyManagementServiceServicer_to_server(V2Servicer(service), server)
    elif package == "v2alpha1":
        cast(Any, v2a_grpc).add_KeyManagementServiceServicer_to_server(V2Alpha1Servicer(service), server)
    elif package == "v1beta1":
        cast(Any, v1_grpc).add_KeyManagementServiceServicer_to_server(V1Servicer(service), server)
    else:  # pragma: no cover - API_FLAVOURS lists every package
        raise KmsCallError("INTERNAL", f"no servicer for package {package}")
