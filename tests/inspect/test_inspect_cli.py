"""`kms-sandbox inspect` run for real in a subprocess, including against a real plugin process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.core import aead, k8s_objects, kmsv2_format
from tests.core.vectors import load_legacy_vector

KEY = "/registry/secrets/default/s1"


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "inspect", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[bytes], fragment: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("kms-sandbox: error: ")
    assert fragment in err


@pytest.fixture
def vector_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    vec = load_legacy_vector()
    path = tmp_path / "value.bin"
    path.write_bytes(bytes.fromhex(vec["value_hex"]))
    return path, vec


def test_json_decrypt_with_dek(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, vec = vector_file
    proc = run_cli(str(path), "--etcd-key", vec["etcd_key"], "--dek-hex", vec["dek_hex"], "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plaintext_sha256"] == "15a8eb00c3b297165ca4dbc5a69d4544a6b2578c6f991542be99ded3ea25ecae"
    assert doc["object"]["data_keys"] == ["api_key"]
    assert "data" not in doc["object"]


def test_human_output_masks_values_unless_asked(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, vec = vector_file
    args = (str(path), "--etcd-key", vec["etcd_key"], "--dek-hex", vec["dek_hex"])
    masked = run_cli(*args)
    out = masked.stdout.decode()
    assert masked.returncode == 0
    for fragment in (
        "k8s:enc:kms:v2:kms-provider:",
        "AES_GCM_KEY",
        "1,000,000,001",
        "data[api_key]",
        "Secret",
    ):
        assert fragment in out
    assert "086a7ffc" not in out
    assert vec["dek_hex"] not in out
    shown = run_cli(*args, "--show-values").stdout.decode()
    assert "086a7ffc-0225-11e8-ba89-0ed5f89f718b" in shown


def test_stdin_hex_and_etcdctl_json(vector_file: tuple[Path, dict[str, str]]) -> None:
    _, vec = vector_file
    proc = run_cli("-", "--json", stdin=vec["value_hex"].encode() + b"\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["key_id"] == "1"
    doc = {
        "header": {"revision": 3},
        "kvs": [
            {
                "key": base64.b64encode(vec["etcd_key"].encode()).decode(),
                "value": base64.b64encode(bytes.fromhex(vec["value_hex"])).decode(),
            }
        ],
    }
    proc = run_cli("--dek-hex", vec["dek_hex"], "--json", stdin=json.dumps(doc).encode())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["etcd_key"] == vec["etcd_key"]
    assert out["object"]["name"] == "dek-source-aes-gcm-key"


def test_print_value_only_trailing_newline_is_tolerated(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = vector_file
    proc = run_cli("--json", stdin=path.read_bytes() + b"\n")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provider"] == "kms-provider"


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (("--format", "hex"), b"not hex", "cannot read the input as hex"),
        ((), b"k8s:enc:kms:v2:kms-provider:\xff\xff\xff", "cannot decode the value"),
        (("/nonexistent/file",), None, "does not exist"),
        (("--dek-hex", "zz"), b"x", "--dek-hex is not valid hex"),
        ((), b"", "input is empty"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], stdin: bytes | None, fragment: str) -> None:
    assert_one_line_error(run_cli(*args, stdin=stdin), fragment)


def test_truncated_value(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = vector_file
    assert_one_line_error(
        run_cli("--format", "raw", stdin=path.read_bytes()[:100]), "cannot decode the value"
    )


def test_wrong_key_and_wrong_aad(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, vec = vector_file
    wrong_dek = run_cli(str(path), "--etcd-key", vec["etcd_key"], "--dek-hex", "00" * 32)
    assert_one_line_error(wrong_dek, "cipher: message authentication failed")
    wrong_aad = run_cli(str(path), "--etcd-key", "/registry/secrets/a/b", "--dek-hex", vec["dek_hex"])
    assert_one_line_error(wrong_aad, "cipher: message authentication failed")
    no_key = run_cli(str(path), "--dek-hex", vec["dek_hex"])
    assert_one_line_error(no_key, "--etcd-key is required")


# --- against a real plugin process ----------------------------------------------------------


@pytest.fixture
async def plugin(short_tmp: Path) -> AsyncIterator[object]:
    from sandbox.kms.process import PluginProcess

    async with PluginProcess(short_tmp / "p") as proc:
        yield proc


async def cli_async(*args: str, stdin: bytes) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", "inspect", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_plugin_unwraps_the_seed(plugin: object) -> None:
    from sandbox.kms.client import KmsV2Client

    endpoint = plugin.kms_endpoint  # type: ignore[attr-defined]
    seed = os.urandom(32)
    async with KmsV2Client(endpoint) as client:
        wrapped = await client.encrypt(seed, "test-uid")
    secret = k8s_objects.StoredObject(kind="Secret", namespace="default", name="s1", data={"token": b"t0p"})
    data = aead.ExtendedNonceGCM(seed).encrypt(k8s_objects.encode_object(secret), KEY.encode())
    obj = kmsv2_format.EncryptedObject(data, wrapped.key_id, wrapped.ciphertext, wrapped.annotations, 1)
    value = kmsv2_format.encode_value("kms-provider", obj)

    code, out, err = await cli_async(
        "--plugin", endpoint, "--etcd-key", KEY, "--json", "--show-values", stdin=value
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["key_id"] == wrapped.key_id
    assert doc["dek_source_type"] == "HKDF_SHA256_XNONCE_AES_GCM_SEED"
    assert base64.b64decode(doc["object"]["data"]["token"]) == b"t0p"

    # A ciphertext the plugin never produced: its Decrypt error is reported in one line.
    forged = kmsv2_format.encode_value(
        "kms-provider",
        kmsv2_format.EncryptedObject(data, wrapped.key_id, b"forged-edek", wrapped.annotations, 1),
    )
    code, _, err = await cli_async("--plugin", endpoint, "--etcd-key", KEY, stdin=forged)
    assert code in (1, 2) and "Traceback" not in err
    assert (
        err.startswith("kms-sandbox: error: plugin ")
        and "failed to decrypt the DEK: rpc error: code = " in err
    )
    assert len(err.strip().splitlines()) == 1


def test_byte_map(vector_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = vector_file
    proc = run_cli(str(path), "--bytes")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "nonce: counter 1,000,000,001" in out
    assert "GCM tag (16 bytes)" in out
