"""A real etcd + kube-apiserver on loopback: they start, answer /readyz, and report KMS v2 health.

These prove the built binaries work and pin down what the real apiserver says when its KMS v2
plugin is unreachable (kmsv2-spec.md sections 4.8 and 6), the baseline the simulator mimics.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.backends.local.binaries import DEFAULT_KUBE_VERSION, Binaries
from sandbox.backends.local.pki import PkiPaths, generate_pki
from sandbox.backends.local.processes import (
    ApiserverEndpoint,
    ManagedProcess,
    http_get,
    start_etcd,
    start_kube_apiserver,
    stop,
)

pytestmark = [pytest.mark.local, pytest.mark.slow]


@dataclass
class Etcd:
    url: str
    pki: PkiPaths
    work: Path


@pytest.fixture
async def etcd(local_binaries: Binaries, short_tmp: Path) -> AsyncIterator[Etcd]:
    proc, endpoint = await start_etcd(local_binaries.etcd, short_tmp / "etcd-data", short_tmp / "etcd.log")
    try:
        yield Etcd(endpoint.client_url, generate_pki(short_tmp / "pki"), short_tmp)
    finally:
        await stop(proc)


def test_apiserver_reports_the_pinned_release(local_binaries: Binaries) -> None:
    done = subprocess.run(
        [str(local_binaries.kube_apiserver), "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"Kubernetes {DEFAULT_KUBE_VERSION}"


async def test_apiserver_becomes_ready(local_binaries: Binaries, etcd: Etcd) -> None:
    proc, api = await start_kube_apiserver(local_binaries.kube_apiserver, etcd.pki, etcd.url, etcd.work)
    try:
        assert await http_get(f"{api.url}/readyz", api.ssl_context) == (200, "ok")
        status, body = await http_get(f"{api.url}/version", api.ssl_context)
        assert status == 200
        assert f'"gitVersion": "{DEFAULT_KUBE_VERSION}"' in body
    finally:
        await stop(proc)


ENCRYPTION_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: v2
          name: nobody-home
          endpoint: unix://{socket}
          timeout: 1s
      - identity: {{}}
"""


async def _kms_down_apiserver(binaries: Binaries, etcd: Etcd) -> tuple[ManagedProcess, ApiserverEndpoint]:
    config = etcd.work / "encryption.yaml"
    config.write_text(ENCRYPTION_CONFIG.format(socket=etcd.work / "kms.sock"))
    return await start_kube_apiserver(
        binaries.kube_apiserver,
        etcd.pki,
        etcd.url,
        etcd.work,
        extra_args=[f"--encryption-provider-config={config}"],
        ready_path="/livez",
    )


async def _post_secret(api: ApiserverEndpoint) -> tuple[int, str]:
    """Create a secret: its first provider is the dead KMS, so the write must fail (spec 4.8)."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "stringData": {"k": "v"}}
    request = urllib.request.Request(
        f"{api.url}/api/v1/namespaces/default/secrets",
        data=json.dumps(secret).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )

    def send() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, context=api.ssl_context, timeout=20) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(send)


async def test_unreachable_kms_plugin_fails_only_kms_health(local_binaries: Binaries, etcd: Etcd) -> None:
    proc, api = await _kms_down_apiserver(local_binaries, etcd)
    try:
        status, body = await http_get(f"{api.url}/healthz/kms-providers", api.ssl_context, timeout=15)
        assert status == 500
        # Measured on v1.37.2: the raw gRPC error of the Status probe, not the spec's wrapped form.
        assert body.startswith("internal server error: kms-provider-0: rpc error: code = DeadlineExceeded")
        assert "kms.sock: connect: no such file or directory" in body
        status, body = await http_get(f"{api.url}/readyz", api.ssl_context, timeout=15)
        assert status == 500
        assert "[-]kms-providers failed: reason withheld" in body
        assert await http_get(f"{api.url}/livez", api.ssl_context) == (200, "ok")
        status, body = await http_get(f"{api.url}/livez/kms-providers", api.ssl_context)
        assert status == 404
        status, body = await _post_secret(api)
        assert status == 500
        assert '"message":"Internal error occurred: got unexpected nil transformer"' in body
    finally:
        await stop(proc)
