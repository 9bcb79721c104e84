"""A deterministic test plugin modelled on upstream's Base64Plugin, as a real gRPC server.

It speaks the real KMS v2 wire protocol on a real Unix socket (grpc.aio server in the test's
event loop), so the simulator's production client path is exercised end to end. "Encryption" is
base64, key_id "1", annotation `local-kek.kms.kubernetes.io: encrypted-local-kek`, Status version
`v2beta1`: exactly the plugin that wrapped the recorded v1.27 vector (spec 3.9), so it can
Decrypt that vector's EDEK. Every knob upstream's tests turn is an attribute.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from sandbox._proto.kms.v2 import api_pb2 as v2_pb
from sandbox._proto.kms.v2 import api_pb2_grpc as v2_grpc
from sandbox._proto.kms.v2alpha1 import api_pb2 as v2a_pb
from sandbox._proto.kms.v2alpha1 import api_pb2_grpc as v2a_grpc

DEFAULT_ANNOTATIONS = {"local-kek.kms.kubernetes.io": b"encrypted-local-kek"}
KEY_DISABLED = "failed precondition - key disabled"


@dataclass
class Base64Plugin:
    key_id: str = "1"
    version: str = "v2beta1"
    healthz: str = "ok"
    failed: bool = False
    """EnterFailedState: every RPC answers FailedPrecondition."""
    decrypt_disabled: bool = False
    annotations: dict[str, bytes] = field(default_factory=lambda: dict(DEFAULT_ANNOTATIONS))
    encrypt_key_id: str | None = None
    """Encrypt answers this key_id instead of the Status one (rotation mismatch)."""
    fixed_ciphertext: bytes | None = None
    """Encrypt returns this ciphertext and carries the real one in an annotation (ENV-13)."""
    encrypt_calls: int = 0
    decrypt_calls: int = 0
    status_calls: int = 0
    last_encrypt_plaintext: bytes = b""
    endpoint: str = ""

    def update_key_id(self) -> None:
        self.key_id = str(int(self.key_id) + 1) if self.key_id.isdigit() else self.key_id + "-next"

    # --- handlers ----------------------------------------------------------------------------

    async def _guard(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if self.failed:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, KEY_DISABLED)
        if hasattr(request, "uid") and not request.uid:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "uid is required")

    async def Status(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.status_calls += 1
        await self._guard(request, context)
        return self._pb.StatusResponse(version=self.version, healthz=self.healthz, key_id=self.key_id)

    async def Encrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.encrypt_calls += 1
        await self._guard(request, context)
        self.last_encrypt_plaintext = bytes(request.plaintext)
        ciphertext = base64.b64encode(request.plaintext)
        annotations = dict(self.annotations)
        if self.fixed_ciphertext is not None:
            annotations["encrypted-dek.kms.kubernetes.io"] = ciphertext
            ciphertext = self.fixed_ciphertext
        key_id = self.key_id if self.encrypt_key_id is None else self.encrypt_key_id
        return self._pb.EncryptResponse(ciphertext=ciphertext, key_id=key_id, annotations=annotations)

    async def Decrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.decrypt_calls += 1
        await self._guard(request, context)
        if self.decrypt_disabled:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "Envelope service was disabled")
        wrapped = request.annotations.get("encrypted-dek.kms.kubernetes.io", request.ciphertext)
        return self._pb.DecryptResponse(plaintext=base64.b64decode(wrapped))

    _pb: Any = v2_pb


@asynccontextmanager
async def serve_base64(directory: Path, package: str = "v2", **settings: Any) -> AsyncIterator[Base64Plugin]:
    """Runs a Base64Plugin on `<directory>/b64.sock` until the block exits."""
    plugin = Base64Plugin(**settings)
    server = grpc.aio.server()
    if package == "v2alpha1":
        plugin._pb = v2a_pb
        v2a_grpc.add_KeyManagementServiceServicer_to_server(plugin, server)  # type: ignore[no-untyped-call]
    else:
        v2_grpc.add_KeyManagementServiceServicer_to_server(plugin, server)  # type: ignore[no-untyped-call]
    path = directory / "b64.sock"
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    plugin.endpoint = f"unix://{path}"
    try:
        yield plugin
    finally:
        await server.stop(None)
