"""Raw etcd access through etcd's own v3 JSON gateway (no etcd client dependency).

etcd serves a grpc-gateway on its client URL: `POST /v3/kv/range` and `POST /v3/kv/put` take
JSON with base64 keys and values. That is enough to read what the apiserver stored, list keys
under a prefix, and write a value the way an attacker (or a scenario) with etcd access would.
It keeps working while every apiserver is down, which restart lessons need.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
from typing import Any


class EtcdError(Exception):
    """etcd did not answer, or answered with an error."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def prefix_range_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (etcd's `WithPrefix`)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key: etcd's convention for "to the end"


class EtcdGateway:
    """A client of one etcd member's JSON gateway, e.g. `http://127.0.0.1:2379`."""

    def __init__(self, client_url: str, timeout: float = 10.0) -> None:
        self.client_url = client_url.rstrip("/")
        self.timeout = timeout

    def _post_blocking(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.client_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise EtcdError(f"etcd {path} answered HTTP {exc.code}: {exc.read()[:200]!r}") from None
        except (OSError, ValueError) as exc:
            raise EtcdError(f"etcd at {self.client_url} did not answer {path}: {exc}") from None
        return answer

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._post_blocking, path, body)

    async def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None when there is none."""
        answer = await self._post("/v3/kv/range", {"key": _b64(key.encode())})
        kvs = answer.get("kvs") or []
        return base64.b64decode(kvs[0].get("value", "")) if kvs else None

    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`, in etcd's (byte) order."""
        raw = prefix.encode()
        answer = await self._post(
            "/v3/kv/range",
            {"key": _b64(raw), "range_end": _b64(prefix_range_end(raw)), "keys_only": True},
        )
        return [base64.b64decode(kv["key"]).decode(errors="replace") for kv in answer.get("kvs") or []]

    async def put(self, key: str, value: bytes) -> None:
        await self._post("/v3/kv/put", {"key": _b64(key.encode()), "value": _b64(value)})
