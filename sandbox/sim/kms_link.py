"""The simulated apiserver's side of the KMS socket: the real gRPC client plus what upstream wraps it in.

Upstream's `grpc_service.go` gives every call its own deadline (the provider `timeout`), waits
for the socket to come up (WaitForReady) and records each call in
`apiserver_envelope_encryption_kms_operations_latency_seconds` through a client interceptor.
`KmsV2Link` / `KmsV1Link` do the same around the bundled plugin's real client
(`sandbox.kms.client`), and turn failures into `KmsCallError` carrying Go's error text.

Virtual time: a call to a plugin whose socket is gone would block until its deadline. On a
virtual clock that wait would be real seconds of nothing, so when nobody listens on the socket
the link answers at once with the DeadlineExceeded the apiserver would eventually report, in
grpc-go's words for what the socket said (`connect: no such file or directory` or `connect:
connection refused`); a plugin that accepts and never answers gives `context deadline exceeded`.
The call's real duration never moves the virtual clock.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.core.rpc_errors import DEADLINE_EXCEEDED_DESC, format_rpc_error, go_code_name
from sandbox.kms.endpoint import Endpoint, parse_endpoint
from sandbox.sim.envelope_metrics import ApiserverMetrics

T = TypeVar("T")

NON_GRPC = "unknown-non-grpc"


class KmsCallError(Exception):
    """A KMS RPC failed. `str()` is Go's text (`rpc error: code = X desc = Y`); `code` the Go code name."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class StatusReply:
    version: str
    healthz: str
    key_id: str


@dataclass(frozen=True)
class EncryptReply:
    ciphertext: bytes
    key_id: str
    annotations: Mapping[str, bytes]


def new_uid() -> str:
    """A random UUID per RPC, as the apiserver sends (google/uuid New(), version 4)."""
    return str(uuid.uuid4())


def deadline_exceeded() -> KmsCallError:
    return KmsCallError("DeadlineExceeded", format_rpc_error("DeadlineExceeded", DEADLINE_EXCEEDED_DESC))


GO_ERRNO_TEXT = {
    errno.ENOENT: "no such file or directory",
    errno.ECONNREFUSED: "connection refused",
    errno.ENOTSOCK: "socket operation on non-socket",
    errno.EACCES: "permission denied",
}
"""Go's syscall.Errno texts for what a Unix-socket connect can say (they match glibc's, lower-cased)."""


def dial_error(endpoint: Endpoint) -> str | None:
    """What grpc-go's dialer would report for `endpoint` now, or None if something accepts.

    A missing socket file gives `no such file or directory`; a file left behind by a killed
    plugin (nobody listening) gives `connection refused`. A cheap connect, no gRPC.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.connect(endpoint.socket_address)
        return None
    except BlockingIOError:
        return None  # the backlog is full, but a server is there
    except OSError as exc:
        if exc.errno not in GO_ERRNO_TEXT:
            return None
        return GO_ERRNO_TEXT[exc.errno]
    finally:
        sock.close()


def socket_listening(endpoint: Endpoint) -> bool:
    """True if something accepts connections on the socket."""
    return dial_error(endpoint) is None


def unreachable(endpoint: Endpoint, reason: str) -> KmsCallError:
    """The DeadlineExceeded a WaitForReady call gets when every dial failed (seen on v1.37.2).

    grpc-go puts the last dial error in the description instead of `context deadline exceeded`.
    """
    address = f"@{endpoint.path}" if endpoint.abstract else endpoint.path
    desc = (
        "latest balancer error: connection error: desc = "
        f'"transport: Error while dialing: dial unix {address}: connect: {reason}"'
    )
    return KmsCallError("DeadlineExceeded", format_rpc_error("DeadlineExceeded", desc))


def _failure(exc: BaseException) -> KmsCallError:
    text = str(exc)
    code = getattr(exc, "go_code", None) or getattr(exc, "code", None)
    if callable(code):
        code = code()
    if code is not None and not isinstance(code, str):
        code = getattr(code, "name", str(code))
    if isinstance(code, str):
        with contextlib.suppress(ValueError):
            code = go_code_name(code)
    if not isinstance(code, str) and text.startswith("rpc error: code = "):
        code = text[len("rpc error: code = ") :].split(" ", 1)[0]
    return KmsCallError(code if isinstance(code, str) else NON_GRPC, text)


class _Link:
    """Shared by the v1 and v2 links: deadline, reachability shortcut, latency metric."""

    def __init__(
        self,
        provider: str,
        endpoint: str,
        package: str,
        timeout: float,
        metrics: ApiserverMetrics,
        fail_fast_when_down: bool,
    ) -> None:
        self.provider = provider
        self.endpoint = parse_endpoint(endpoint)
        self.package = package
        self.timeout = timeout
        self.metrics = metrics
        self.fail_fast_when_down = fail_fast_when_down
        self.calls: dict[str, int] = {}
        """Calls made per method name: the simulator's own count (the plugin keeps its own)."""

    def method_path(self, method: str) -> str:
        return f"/{self.package}.KeyManagementService/{method}"

    async def _call(self, method: str, op: Callable[[], Awaitable[T]]) -> T:
        self.calls[method] = self.calls.get(method, 0) + 1
        start = time.perf_counter()
        code = "OK"
        try:
            if self.fail_fast_when_down and (reason := dial_error(self.endpoint)) is not None:
                raise unreachable(self.endpoint, reason)
            return await op()
        except KmsCallError as exc:
            code = exc.code
            raise
        except Exception as exc:
            failure = _failure(exc)
            if (
                failure.code in ("DeadlineExceeded", "Unavailable")
                and (reason := dial_error(self.endpoint)) is not None
            ):
                # The Python client's words for a failed dial differ; say what grpc-go says.
                failure = unreachable(self.endpoint, reason)
            code = failure.code
            raise failure from None
        finally:
            self.metrics.record_kms_call(
                self.provider, self.method_path(method), code, time.perf_counter() - start
            )

    async def close(self) -> None:
        client: Any = getattr(self, "_client", None)
        if client is not None and hasattr(client, "close"):
            with contextlib.suppress(Exception):
                await client.close()


class KmsV2Link(_Link):
    """Status / Encrypt / Decrypt of one KMS v2 provider over its Unix socket."""

    def __init__(
        self,
        provider: str,
        endpoint: str,
        *,
        package: str = "v2",
        timeout: float = 3.0,
        metrics: ApiserverMetrics,
        fail_fast_when_down: bool = False,
    ) -> None:
        super().__init__(provider, endpoint, package, timeout, metrics, fail_fast_when_down)
        from sandbox.kms.client import KmsV2Client

        api = "v2alpha1" if package == "v2alpha1" else "v2"
        self._client = KmsV2Client(endpoint, api=api, timeout=timeout)

    async def status(self) -> StatusReply:
        async def op() -> StatusReply:
            r = await self._client.status()
            return StatusReply(version=r.version, healthz=r.healthz, key_id=r.key_id)

        return await self._call("Status", op)

    async def encrypt(self, plaintext: bytes, uid: str) -> EncryptReply:
        async def op() -> EncryptReply:
            r = await self._client.encrypt(plaintext, uid)
            return EncryptReply(
                ciphertext=bytes(r.ciphertext), key_id=r.key_id, annotations=dict(r.annotations or {})
            )

        return await self._call("Encrypt", op)

    async def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> bytes:
        async def op() -> bytes:
            r: Any = await self._client.decrypt(ciphertext, uid, key_id, dict(annotations))
            return bytes(r if isinstance(r, bytes | bytearray) else r.plaintext)

        return await self._call("Decrypt", op)


class KmsV1Link(_Link):
    """Encrypt / Decrypt of one KMS v1 provider (`v1beta1`), which has no Status."""

    def __init__(
        self,
        provider: str,
        endpoint: str,
        *,
        timeout: float = 3.0,
        metrics: ApiserverMetrics,
        fail_fast_when_down: bool = False,
    ) -> None:
        super().__init__(provider, endpoint, "v1beta1", timeout, metrics, fail_fast_when_down)
        from sandbox.kms.client import KmsV1Client

        self._client = KmsV1Client(endpoint, timeout=timeout)

    async def encrypt(self, plaintext: bytes) -> bytes:
        async def op() -> bytes:
            r: Any = await self._client.encrypt(plaintext)
            return bytes(r if isinstance(r, bytes | bytearray) else r.cipher)

        return await self._call("Encrypt", op)

    async def decrypt(self, ciphertext: bytes) -> bytes:
        async def op() -> bytes:
            r: Any = await self._client.decrypt(ciphertext)
            return bytes(r if isinstance(r, bytes | bytearray) else r.plain)

        return await self._call("Decrypt", op)
