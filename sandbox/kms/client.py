"""KMS clients that behave like the kube-apiserver's: lazy dial, wait-for-ready, per-call deadline.

Used by the simulator, scenarios and the UI to talk to any KMS plugin (ours or a real one).
Like the apiserver's client (spec 2.6), every call waits for the socket to come up until its
deadline instead of failing fast, and the `:authority` is `localhost` (1.32+). Errors surface
as `KmsRpcError`, whose text is exactly what grpc-go prints, so the simulator can embed it in
apiserver messages: `rpc error: code = DeadlineExceeded desc = context deadline exceeded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import grpc

from sandbox._proto.kms.v1beta1 import api_pb2 as v1_pb
from sandbox._proto.kms.v1beta1 import api_pb2_grpc as v1_grpc
from sandbox._proto.kms.v2 import api_pb2 as v2_pb
from sandbox._proto.kms.v2 import api_pb2_grpc as v2_grpc
from sandbox._proto.kms.v2alpha1 import api_pb2 as v2a_pb
from sandbox._proto.kms.v2alpha1 import api_pb2_grpc as v2a_grpc
from sandbox.core.rpc_errors import DEADLINE_EXCEEDED_DESC, format_rpc_error, go_code_name
from sandbox.kms.endpoint import parse_endpoint

V1_VERSION = "v1beta1"
CHANNEL_OPTIONS = (("grpc.default_authority", "localhost"),)


class KmsRpcError(Exception):
    """A failed KMS call. `code` is Go's name ("DeadlineExceeded"); str() is Go's error text."""

    def __init__(self, code: str, desc: str) -> None:
        self.code = code
        self.desc = desc
        super().__init__(format_rpc_error(code, desc))


@dataclass(frozen=True)
class StatusResult:
    version: str
    healthz: str
    key_id: str


@dataclass(frozen=True)
class EncryptResult:
    ciphertext: bytes
    key_id: str
    annotations: dict[str, bytes]


def rpc_error_from_grpc(exc: grpc.aio.AioRpcError) -> KmsRpcError:
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return KmsRpcError("DeadlineExceeded", DEADLINE_EXCEEDED_DESC)
    return KmsRpcError(go_code_name(code.name), exc.details() or "")


class _Channel:
    """A lazily dialled insecure channel to a Unix socket endpoint (parsed like upstream)."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = parse_endpoint(endpoint)  # raises EndpointError with upstream's text
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.endpoint.grpc_target, options=CHANNEL_OPTIONS)
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None


class KmsV2Client:
    """Status/Encrypt/Decrypt against a KMS v2 plugin; `api` "v2"/"v2beta1" or "v2alpha1"."""

    def __init__(self, endpoint: str, *, api: str = "v2", timeout: float = 3.0) -> None:
        if api in ("v2", "v2beta1"):
            self._pb: Any = v2_pb
            self._grpc: Any = v2_grpc
        elif api == "v2alpha1":
            self._pb, self._grpc = v2a_pb, v2a_grpc
        else:
            raise ValueError(f"unknown KMS v2 api {api!r}; expected v2, v2beta1 or v2alpha1")
        self.api = api
        self._conn = _Channel(endpoint, timeout)
        self._stub: Any = None

    @property
    def endpoint(self) -> str:
        return self._conn.endpoint.url

    def _get_stub(self) -> Any:
        if self._stub is None:
            self._stub = self._grpc.KeyManagementServiceStub(self._conn.channel)
        return self._stub

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._get_stub(), method)(
                request, timeout=self._conn.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error_from_grpc(exc) from None

    async def status(self) -> StatusResult:
        resp = await self._call("Status", self._pb.StatusRequest())
        return StatusResult(version=resp.version, healthz=resp.healthz, key_id=resp.key_id)

    async def encrypt(self, plaintext: bytes, uid: str) -> EncryptResult:
        resp = await self._call("Encrypt", self._pb.EncryptRequest(plaintext=plaintext, uid=uid))
        return EncryptResult(resp.ciphertext, resp.key_id, dict(resp.annotations))

    async def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> bytes:
        request = self._pb.DecryptRequest(
            ciphertext=ciphertext, uid=uid, key_id=key_id, annotations=dict(annotations)
        )
        resp = await self._call("Decrypt", request)
        return bytes(resp.plaintext)

    async def close(self) -> None:
        await self._conn.close()
        self._stub = None

    async def __aenter__(self) -> KmsV2Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class KmsV1Client:
    """Version/Encrypt/Decrypt against a KMS v1 (v1beta1) plugin, sending version "v1beta1"."""

    def __init__(self, endpoint: str, *, timeout: float = 3.0) -> None:
        self._conn = _Channel(endpoint, timeout)
        self._stub: Any = None

    def _get_stub(self) -> Any:
        if self._stub is None:
            self._stub = cast(Any, v1_grpc).KeyManagementServiceStub(self._conn.channel)
        return self._stub

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._get_stub(), method)(
                request, timeout=self._conn.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error_from_grpc(exc) from None

    async def version(self) -> str:
        resp = await self._call("Version", v1_pb.VersionRequest(version=V1_VERSION))
        return str(resp.version)

    async def encrypt(self, plain: bytes) -> bytes:
        resp = await self._call("Encrypt", v1_pb.EncryptRequest(version=V1_VERSION, plain=plain))
        return bytes(resp.cipher)

    async def decrypt(self, cipher: bytes) -> bytes:
        resp = await self._call("Decrypt", v1_pb.DecryptRequest(version=V1_VERSION, cipher=cipher))
        return bytes(resp.plain)

    async def close(self) -> None:
        await self._conn.close()
        self._stub = None

    async def __aenter__(self) -> KmsV1Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
