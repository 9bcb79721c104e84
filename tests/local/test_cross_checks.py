"""Cross-checks of the sandbox's own envelope code against a real kube-apiserver + etcd (issue #6).

1. The simulator's KMS v2 write path (`sandbox.sim.providers.build_providers` on the real
   apiserver's own EncryptionConfiguration file, talking to the real bundled plugin) produces
   values the real kube-apiserver decrypts; one flipped ciphertext bit makes it fail with 500.
2. Values the real kube-apiserver wrote decode and decrypt with the `kms-sandbox inspect` CLI,
   from a raw value file and from an `etcdctl get -w json` document.

One backend start is shared by the module (a start costs several seconds on 2 cores).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sandbox.backends.base import BackendOptions
from sandbox.backends.factory import make_backend
from sandbox.backends.local.backend import LocalBackend
from sandbox.backends.local.binaries import DEFAULT_KUBE_VERSION, Binaries
from sandbox.core import kmsv2_format
from sandbox.core.encryption_config import load_encryption_config
from sandbox.core.k8s_objects import StoredObject, encode_object
from sandbox.core.releases import profile_for
from sandbox.kms.control_client import PluginControlClient
from sandbox.sim.clock import VirtualClock
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.providers import BuildContext, build_providers

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

CLI = Path(sys.executable).with_name("kms-sandbox")
PROVIDER = "kms-provider"
"""The provider name in LocalBackend's default EncryptionConfiguration (checked against the file)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backend(local_binaries: Binaries) -> AsyncIterator[LocalBackend]:
    local = make_backend("local", BackendOptions(kube_version=DEFAULT_KUBE_VERSION))
    assert isinstance(local, LocalBackend)
    async with local:
        yield local


async def _current_key(backend: LocalBackend) -> str:
    async with PluginControlClient(backend.plugin_control_endpoint(0)) as control:
        return (await control.get_state()).current_key_id


async def _sim_encrypt_secrets(
    backend: LocalBackend, objects: list[tuple[str, StoredObject]]
) -> list[tuple[str, bytes, str]]:
    """Encrypt each (etcd key, Secret) with the simulator's write path, as its apiserver would.

    The simulator builds its transformers from the real apiserver's own config file, so the
    provider name and the plugin endpoint (the real bundled plugin's socket) are the real ones.
    Returns (etcd key, value with prefix, key_id) per object.
    """
    release = profile_for(backend.resolved.kube_version)
    config = load_encryption_config(backend.config_path(0).read_text(), minor=release.minor)
    clock = VirtualClock()  # the simulator's default; its timers never fire unless advanced
    ctx = BuildContext(
        release=release,
        clock=clock,
        metrics=ApiserverMetrics(release, "sim-cross-check"),
        emit=lambda event: None,
        source="sim-cross-check",
        feature_gates={},
        fail_fast_when_down=False,
    )
    providers = build_providers(config, ctx, ("secrets",))
    try:
        await providers.prime()  # the inline first probe: Status, then Encrypt of a fresh seed
        out = []
        for key, obj in objects:
            result = await providers.chain("secrets").write(encode_object(obj), key.encode())
            out.append((key, result.value, result.key_id))
        return out
    finally:
        await providers.close()
        await clock.aclose()


def _flip_ciphertext_bit(value: bytes) -> bytes:
    """The same value with one bit of the AES-GCM ciphertext (after info and nonce) flipped."""
    provider, obj = kmsv2_format.decode_value(value)
    data = bytearray(obj.encrypted_data)
    data[32 + 12] ^= 0x01  # seed mode: info(32) || nonce(12) || ciphertext || tag(16)
    tampered = kmsv2_format.EncryptedObject(
        bytes(data), obj.key_id, obj.encrypted_dek_source, obj.annotations, obj.dek_source_type
    )
    return kmsv2_format.encode_value(provider, tampered)


def _inspect(path: Path, key: str, plugin: str, *extra: str) -> dict[str, Any]:
    argv = [str(CLI), "inspect", str(path), "--etcd-key", key, "--plugin", plugin, "--json", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


async def test_values_the_simulator_encrypts_are_read_by_the_real_apiserver(backend: LocalBackend) -> None:
    now = int(time.time())
    data: Mapping[str, bytes] = {"username": b"admin", "password": b"sim-wrote-this"}
    written = await _sim_encrypt_secrets(
        backend,
        [
            (
                f"/registry/secrets/default/{name}",
                StoredObject(
                    kind="Secret",
                    namespace="default",
                    name=name,
                    uid=uid,
                    creation_timestamp=now,
                    data=data,
                    type="Opaque",
                ),
            )
            for name, uid in (
                ("from-sim", "5b0c3b1e-1f7a-4a57-9a43-4a1d2c0e0001"),
                ("from-sim-tampered", "5b0c3b1e-1f7a-4a57-9a43-4a1d2c0e0002"),
            )
        ],
    )
    (good_key, good_value, key_id), (bad_key, bad_source, _) = written

    provider, obj = kmsv2_format.decode_value(good_value)
    assert provider == PROVIDER
    assert obj.dek_source_type_name == "HKDF_SHA256_XNONCE_AES_GCM_SEED"
    assert key_id == obj.key_id == await _current_key(backend)
    assert b"sim-wrote-this" not in good_value

    await backend.etcd_put(good_key, good_value)
    read = await backend.get("secrets", "default", "from-sim")
    assert read.ok, read.message
    assert read.code == 200
    assert read.data == data

    await backend.etcd_put(bad_key, _flip_ciphertext_bit(bad_source))
    broken = await backend.get("secrets", "default", "from-sim-tampered")
    assert not broken.ok
    assert broken.code == 500, broken
    assert broken.reason == "InternalError"
    # e.g. "Internal error occurred: StorageError: corrupt object, ... AdditionalErrorMsg: data from
    # the storage is not transformable revision=0: cipher: message authentication failed"
    assert "data from the storage is not transformable" in broken.message, broken.message
    assert "cipher: message authentication failed" in broken.message, broken.message

    # The good one is unaffected, and still byte-for-byte what the simulator wrote.
    assert (await backend.get("secrets", "default", "from-sim")).data == data
    assert await backend.etcd_get(good_key) == good_value


async def test_values_the_real_apiserver_writes_decrypt_with_the_inspector(
    backend: LocalBackend, tmp_path: Path
) -> None:
    data = {"token": b"real-apiserver-secret-value", "ca.crt": b"-----BEGIN CERTIFICATE-----"}
    created = await backend.create("secrets", "default", "from-real", data)
    assert created.ok and created.code == 201, created.message
    key = "/registry/secrets/default/from-real"
    value = await backend.etcd_get(key)
    assert value is not None
    raw = tmp_path / "value.bin"
    raw.write_bytes(value)
    plugin = backend.plugin_kms_endpoint(0)
    assert plugin.startswith("unix://")
    current = await _current_key(backend)

    etcdctl_doc = {
        "header": {"cluster_id": 1, "member_id": 2, "revision": 7, "raft_term": 2},
        "kvs": [
            {
                "key": base64.b64encode(key.encode()).decode(),
                "create_revision": 7,
                "mod_revision": 7,
                "version": 1,
                "value": base64.b64encode(value).decode(),
            }
        ],
        "count": 1,
    }
    as_json = tmp_path / "etcdctl.json"
    as_json.write_text(json.dumps(etcdctl_doc))

    reports = [
        _inspect(raw, key, plugin),
        _inspect(as_json, key, plugin, "--format", "etcdctl-json"),
    ]
    for report in reports:
        assert report["etcd_key"] == key
        assert report["kind"] == "kms-v2"
        assert report["prefix"] == f"k8s:enc:kms:v2:{PROVIDER}:"
        assert report["provider"] == PROVIDER
        assert report["key_id"] == current
        assert report["dek_source_type"] == "HKDF_SHA256_XNONCE_AES_GCM_SEED"
        assert report["layout"]["info"] == 32 and report["layout"]["nonce"] == 12
        assert "validation_error" not in report
        assert report["object"] == {
            "kind": "Secret",
            "namespace": "default",
            "name": "from-real",
            "data_keys": sorted(data),
            "encoding": "protobuf",
        }
        text = json.dumps(report)
        for secret in data.values():
            assert secret.decode() not in text
            assert base64.b64encode(secret).decode() not in text
    assert reports[0] == reports[1]

    shown = _inspect(raw, key, plugin, "--show-values")
    assert {k: base64.b64decode(v) for k, v in shown["object"]["data"].items()} == data
