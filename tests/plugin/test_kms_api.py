"""Round trips over real Unix sockets for every API flavour, raw method paths, and bad requests."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid

import grpc
import pytest

from sandbox._proto.kms.v1beta1 import api_pb2 as v1_pb
from sandbox._proto.kms.v2 import api_pb2 as v2_pb
from sandbox.kms.client import KmsRpcError, KmsV1Client, KmsV2Client
from sandbox.kms.endpoint import EndpointError
from sandbox.kms.server import RunningPlugin
from tests.plugin.conftest import StartPlugin


def uid() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize(
    ("api", "client_api", "version"),
    [
        ("v2", "v2", "v2"),
        ("v2beta1", "v2", "v2beta1"),
        ("v2alpha1", "v2alpha1", "v2alpha1"),
    ],
)
async def test_round_trip_per_flavour(
    start_plugin: StartPlugin, api: str, client_api: str, version: str
) -> None:
    async with start_plugin(api) as plugin, KmsV2Client(plugin.kms.url, api=client_api) as client:
        status = await client.status()
        assert (status.version, status.healthz) == (version, "ok")
        assert status.key_id == plugin.service.keyring.current_id
        dek = os.urandom(32)
        result = await client.encrypt(dek, uid())
        assert result.key_id == status.key_id
        assert result.annotations == {"version.kms-sandbox.dev": b"1"}
        assert dek not in result.ciphertext and len(result.ciphertext) < 1024
        assert await client.decrypt(result.ciphertext, uid(), result.key_id, result.annotations) == dek


async def test_wrong_package_is_unimplemented(start_plugin: StartPlugin) -> None:
    """A 1.25 apiserver (v2alpha1 paths) against a v2 plugin: the method does not exist."""
    async with start_plugin("v2") as plugin, KmsV2Client(plugin.kms.url, api="v2alpha1") as client:
        with pytest.raises(KmsRpcError) as err:
            await client.status()
        assert err.value.code == "Unimplemented"


@pytest.mark.parametrize(("api", "package"), [("v2", "v2"), ("v2beta1", "v2"), ("v2alpha1", "v2alpha1")])
async def test_raw_method_paths(start_plugin: StartPlugin, api: str, package: str) -> None:
    """What the apiserver sends on the wire: /<package>.KeyManagementService/<Method>."""
    async with start_plugin(api) as plugin, grpc.aio.insecure_channel(plugin.kms.grpc_target) as channel:
        encrypt = channel.unary_unary(
            f"/{package}.KeyManagementService/Encrypt",
            request_serializer=v2_pb.EncryptRequest.SerializeToString,
            response_deserializer=v2_pb.EncryptResponse.FromString,
        )
        decrypt = channel.unary_unary(
            f"/{package}.KeyManagementService/Decrypt",
            request_serializer=v2_pb.DecryptRequest.SerializeToString,
            response_deserializer=v2_pb.DecryptResponse.FromString,
        )
        enc = await encrypt(v2_pb.EncryptRequest(plaintext=b"s" * 32, uid=uid()), timeout=3)
        dec = await decrypt(
            v2_pb.DecryptRequest(
                ciphertext=enc.ciphertext, uid=uid(), key_id=enc.key_id, annotations=dict(enc.annotations)
            ),
            timeout=3,
        )
        assert dec.plaintext == b"s" * 32


async def test_v1_flavour(start_plugin: StartPlugin) -> None:
    async with start_plugin("v1") as plugin, KmsV1Client(plugin.kms.url) as client:
        assert await client.version() == "v1beta1"
        cipher = await client.encrypt(b"d" * 32)
        assert await client.decrypt(cipher) == b"d" * 32
        plugin.service.rotate()
        assert await client.decrypt(cipher) == b"d" * 32  # old KEK still decrypts
        async with grpc.aio.insecure_channel(plugin.kms.grpc_target) as channel:
            version = channel.unary_unary(
                "/v1beta1.KeyManagementService/Version",
                request_serializer=v1_pb.VersionRequest.SerializeToString,
                response_deserializer=v1_pb.VersionResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await version(v1_pb.VersionRequest(version="v2"), timeout=3)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (
                err.value.details()
                == "KMS provider api version v2 is not supported, only v1beta1 is supported now"
            )


async def test_rotation_over_the_wire(plugin: RunningPlugin, kms: KmsV2Client) -> None:
    before = await kms.encrypt(b"a" * 32, uid())
    new_id, previous = plugin.service.rotate()
    assert previous == before.key_id
    assert (await kms.status()).key_id == new_id
    after = await kms.encrypt(b"b" * 32, uid())
    assert after.key_id == new_id != before.key_id
    assert await kms.decrypt(before.ciphertext, uid(), before.key_id, before.annotations) == b"a" * 32


async def test_socket_and_keyring_permissions(plugin: RunningPlugin) -> None:
    for endpoint in (plugin.kms, plugin.control):
        assert stat.S_IMODE(os.stat(endpoint.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(endpoint.path)).st_mode) == 0o700
    state_dir = os.path.dirname(plugin.kms.path).replace("/sock", "/state")
    assert stat.S_IMODE(os.stat(os.path.join(state_dir, "keyring.json")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700


async def test_abstract_socket(start_plugin: StartPlugin, short_tmp: object) -> None:
    name = f"kms-sandbox-test-{uuid.uuid4().hex[:8]}"
    async with start_plugin(listen=f"unix:///@{name}") as plugin:
        assert plugin.kms.abstract and plugin.control.path == f"{name}.control"
        async with KmsV2Client(f"unix:///@{name}") as client:
            assert (await client.status()).healthz == "ok"


# --- bad requests: clean errors, and the plugin keeps serving ------------------------------------


async def _raw_decrypt(plugin: RunningPlugin, request: v2_pb.DecryptRequest) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(plugin.kms.grpc_target) as channel:
        call = channel.unary_unary(
            "/v2.KeyManagementService/Decrypt",
            request_serializer=v2_pb.DecryptRequest.SerializeToString,
            response_deserializer=v2_pb.DecryptResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, timeout=3)
        return err.value


async def test_bad_requests(plugin: RunningPlugin, kms: KmsV2Client) -> None:
    good = await kms.encrypt(b"k" * 32, uid())
    tampered = bytearray(good.ciphertext)
    tampered[20] ^= 0x01
    cases = [
        (
            dict(ciphertext=good.ciphertext, uid=uid(), key_id="kek-999-deadbeef"),
            grpc.StatusCode.NOT_FOUND,
            "unknown key_id 'kek-999-deadbeef'",
        ),
        (
            dict(ciphertext=bytes(tampered), uid=uid(), key_id=good.key_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"ciphertext failed authentication under key_id '{good.key_id}'",
        ),
        (
            dict(ciphertext=good.ciphertext, uid="", key_id=good.key_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            "uid is required",
        ),
        (
            dict(ciphertext=b"", uid=uid(), key_id=good.key_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ciphertext is empty",
        ),
        (
            dict(ciphertext=b"x" * 2000, uid=uid(), key_id=good.key_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            "2000 bytes; expected at most 1024",
        ),
        (
            dict(
                ciphertext=good.ciphertext,
                uid=uid(),
                key_id=good.key_id,
                annotations={"version.kms-sandbox.dev": b"9"},
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "unsupported version.kms-sandbox.dev annotation",
        ),
    ]
    for fields, code, message in cases:
        err = await _raw_decrypt(plugin, v2_pb.DecryptRequest(**fields))  # type: ignore[arg-type]
        assert err.code() == code, message
        assert message in (err.details() or "")
        assert "Traceback" not in (err.details() or "")
    for plaintext, request_uid, message in [
        (b"", uid(), "plaintext is empty"),
        (b"x" * 600, uid(), "600 bytes; expected at most 512"),
        (b"x" * 32, "", "uid is required"),
    ]:
        with pytest.raises(KmsRpcError) as kerr:
            await kms.encrypt(plaintext, request_uid)
        assert kerr.value.code == "InvalidArgument" and message in kerr.value.desc
        assert str(kerr.value).startswith("rpc error: code = InvalidArgument desc = ")
    # Still serving, and every failure was counted.
    assert await kms.decrypt(good.ciphertext, uid(), good.key_id, good.annotations) == b"k" * 32
    counters = plugin.service.counters
    assert counters[("Decrypt", "INVALID_ARGUMENT")] == 5
    assert counters[("Decrypt", "NOT_FOUND")] == 1
    assert counters[("Encrypt", "INVALID_ARGUMENT")] == 3


def test_endpoint_errors_match_upstream() -> None:
    with pytest.raises(EndpointError, match=r"^remote KMS provider can't use empty string as endpoint$"):
        KmsV2Client("")
    with pytest.raises(EndpointError, match=r'^unsupported scheme "http" for remote KMS provider$'):
        KmsV2Client("http://localhost/kms")
    with pytest.raises(ValueError, match="unknown KMS v2 api 'v3'"):
        KmsV2Client("unix:///tmp/x.sock", api="v3")


async def test_client_waits_for_the_socket_until_its_deadline(
    short_tmp: object, start_plugin: StartPlugin
) -> None:
    """Like the apiserver (GRPC-1/GRPC-2): no plugin -> DeadlineExceeded; late plugin -> success."""
    async with KmsV2Client(f"unix://{short_tmp}/sock/kms.sock", timeout=0.3) as client:
        with pytest.raises(KmsRpcError) as err:
            await client.status()
    assert str(err.value) == "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    async with KmsV2Client(f"unix://{short_tmp}/sock/kms.sock", timeout=3) as client:
        pending = asyncio.create_task(client.status())
        await asyncio.sleep(0.3)
        async with start_plugin():
            assert (await pending).healthz == "ok"


async def test_hundred_concurrent_callers(plugin: RunningPlugin) -> None:
    clients = [KmsV2Client(plugin.kms.url) for _ in range(10)]

    async def caller(i: int) -> bool:
        client = clients[i % len(clients)]
        dek = os.urandom(32)
        result = await client.encrypt(dek, uid())
        return await client.decrypt(result.ciphertext, uid(), result.key_id, result.annotations) == dek

    try:
        results = await asyncio.gather(*(caller(i) for i in range(100)))
    finally:
        for client in clients:
            await client.close()
    assert results == [True] * 100
    assert plugin.service.counters[("Encrypt", "OK")] == 100
    assert plugin.service.counters[("Decrypt", "OK")] == 100
