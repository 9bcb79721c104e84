"""Object, health and metrics operations through a real kube-apiserver (local and kind backends).

Built on the official `kubernetes` client, whose calls block: each runs in a worker thread so
the backend's event loop (and the UI) stays responsive. API errors are *results*, not
exceptions: an HTTP 500 `Internal error occurred: got unexpected nil transformer` is exactly
what a cold-start lesson expects to see, so it comes back as `OpResult(ok=False, code=500, ...)`.
A refused connection (apiserver restarting) comes back with code 0 and reason "ConnectionError".
Object data never appears in messages or logs.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sandbox.backends.base import HealthResult, ListResult, MigrationResult, ObjectKind, OpResult

REQUEST_TIMEOUT_S = 15.0
T = TypeVar("T")


def _error_result(exc: Exception) -> OpResult:
    if isinstance(exc, ApiException):
        reason, message = str(exc.reason or ""), ""
        try:
            status = json.loads(exc.body or "{}")
            reason = status.get("reason", reason)
            message = status.get("message", "")
        except (TypeError, ValueError):
            message = str(exc.body or "")
        return OpResult(ok=False, code=int(exc.status or 0), reason=reason, message=message)
    return OpResult(ok=False, code=0, reason="ConnectionError", message=f"{type(exc).__name__}: {exc}")


def _encode(kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes]) -> Any:
    meta = client.V1ObjectMeta(name=name, namespace=namespace)
    if kind == "secrets":
        return client.V1Secret(metadata=meta, data={k: base64.b64encode(v).decode() for k, v in data.items()})
    text: dict[str, str] = {}
    binary: dict[str, bytes | str] = {}
    for key, value in data.items():
        try:
            text[key] = value.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    return client.V1ConfigMap(metadata=meta, data=text or None, binary_data=binary or None)


def _decode(kind: ObjectKind, obj: Any) -> dict[str, bytes]:
    if kind == "secrets":
        return {k: base64.b64decode(v) for k, v in (obj.data or {}).items()}
    out = {k: v.encode() for k, v in (obj.data or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.binary_data or {}).items()})
    return out


class KubeApi:
    """One apiserver endpoint. Use `from_kubeconfig` (kind) or `from_parts` (local)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None, server: str | None = None) -> KubeApi:
        """`server` overrides the kubeconfig's address (one apiserver of an HA cluster)."""
        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=configuration
        )
        if server:
            configuration.host = server
        return cls(client.ApiClient(configuration))

    @classmethod
    def from_parts(cls, server: str, ca_file: str, cert_file: str = "", key_file: str = "") -> KubeApi:
        configuration = client.Configuration()
        configuration.host = server
        configuration.ssl_ca_cert = ca_file
        configuration.cert_file = cert_file or None
        configuration.key_file = key_file or None
        return cls(client.ApiClient(configuration))

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, _request_timeout=REQUEST_TIMEOUT_S, **kwargs)

    # --- objects ----------------------------------------------------------------------------
    def _ops(self, kind: ObjectKind) -> tuple[Callable[..., Any], ...]:
        c = self.core
        if kind == "secrets":
            return (
                c.create_namespaced_secret,
                c.read_namespaced_secret,
                c.replace_namespaced_secret,
                c.delete_namespaced_secret,
                c.list_namespaced_secret,
                c.list_secret_for_all_namespaces,
            )
        return (
            c.create_namespaced_config_map,
            c.read_namespaced_config_map,
            c.replace_namespaced_config_map,
            c.delete_namespaced_config_map,
            c.list_namespaced_config_map,
            c.list_config_map_for_all_namespaces,
        )

    async def ensure_namespace(self, namespace: str) -> None:
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        try:
            await self._call(self.core.create_namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes]
    ) -> OpResult:
        create = self._ops(kind)[0]
        try:
            obj = await self._call(create, namespace, _encode(kind, namespace, name, data))
        except Exception as exc:
            return _error_result(exc)
        return OpResult(ok=True, code=201, resource_version=obj.metadata.resource_version or "")

    async def get(self, kind: ObjectKind, namespace: str, name: str) -> OpResult:
        read = self._ops(kind)[1]
        try:
            obj = await self._call(read, name, namespace)
        except Exception as exc:
            return _error_result(exc)
        return OpResult(
            ok=True, resource_version=obj.metadata.resource_version or "", data=_decode(kind, obj)
        )

    async def update(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes] | None = None
    ) -> OpResult:
        """PUT: with `data=None` the object goes back exactly as read (a no-op update)."""
        _, read, replace, *_ = self._ops(kind)
        try:
            obj = await self._call(read, name, namespace)
            if data is not None:
                fresh = _encode(kind, namespace, name, data)
                obj.data = fresh.data
                if kind == "configmaps":
                    obj.binary_data = fresh.binary_data
            out = await self._call(replace, name, namespace, obj)
        except Exception as exc:
            return _error_result(exc)
        return OpResult(
            ok=True, resource_version=out.metadata.resource_version or "", data=_decode(kind, out)
        )

    async def delete(self, kind: ObjectKind, namespace: str, name: str) -> OpResult:
        delete = self._ops(kind)[3]
        try:
            await self._call(delete, name, namespace)
        except Exception as exc:
            return _error_result(exc)
        return OpResult(ok=True)

    async def list(self, kind: ObjectKind, namespace: str | None = None) -> ListResult:
        *_, list_ns, list_all = self._ops(kind)
        try:
            items = await (self._call(list_ns, namespace) if namespace else self._call(list_all))
        except Exception as exc:
            err = _error_result(exc)
            return ListResult(ok=False, code=err.code, message=err.message)
        names = tuple(f"{i.metadata.namespace}/{i.metadata.name}" for i in items.items)
        return ListResult(ok=True, items=names)

    async def migrate(self, kinds: tuple[ObjectKind, ...] = ("secrets",)) -> MigrationResult:
        """`kubectl get <kind> -A -o json | kubectl replace -f -`: each object PUT back unchanged."""
        total = rewritten = 0
        failed: list[str] = []
        for kind in kinds:
            listed = await self.list(kind)
            if not listed.ok:
                failed.append(f"{kind}: {listed.message}")
                continue
            for item in listed.items:
                namespace, name = item.split("/", 1)
                before = await self.get(kind, namespace, name)
                after = await self.update(kind, namespace, name) if before.ok else before
                total += 1
                if not after.ok:
                    failed.append(f"{item}: {after.message}")
                elif after.resource_version != before.resource_version:
                    rewritten += 1
        return MigrationResult(total=total, rewritten=rewritten, failed=tuple(failed))

    # --- health and metrics -------------------------------------------------------------------
    async def raw_get(self, path: str) -> HealthResult:
        """GET any path (e.g. /readyz?verbose); non-2xx answers come back, not raised.

        kubernetes >= 31 (the new generator) takes a full URL and returns the response whatever
        its status; a connection failure raises ApiException(status=0) or a urllib3 error.
        """
        url = self.api_client.configuration.host.rstrip("/") + path
        try:
            response = await asyncio.to_thread(
                self.api_client.call_api,
                "GET",
                url,
                header_params={"Accept": "*/*"},
                _request_timeout=REQUEST_TIMEOUT_S,
            )
            body = await asyncio.to_thread(response.read)
        except ApiException as exc:
            return HealthResult(code=int(exc.status or 0), body=str(exc.body or exc.reason or "").strip())
        except Exception as exc:
            return HealthResult(code=0, body=f"{type(exc).__name__}: {exc}")
        return HealthResult(code=int(response.status), body=(body or b"").decode(errors="replace").strip())

    async def health(self, path: str = "/healthz/kms-providers") -> HealthResult:
        return await self.raw_get(path)

    async def metrics(self) -> str:
        result = await self.raw_get("/metrics")
        return result.body if result.ok else ""
