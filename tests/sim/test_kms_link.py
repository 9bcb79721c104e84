"""The KMS link names a failed dial the way grpc-go does, from what the socket really said."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from sandbox.core.releases import NEWEST
from sandbox.kms.endpoint import parse_endpoint
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.kms_link import KmsCallError, KmsV2Link, dial_error

DIAL = (
    "rpc error: code = DeadlineExceeded desc = latest balancer error: connection error: "
    'desc = "transport: Error while dialing: dial unix {path}: connect: {reason}"'
)


def _link(path: Path, *, fail_fast: bool, timeout: float = 0.3) -> KmsV2Link:
    metrics = ApiserverMetrics(NEWEST, "test-apiserver")
    return KmsV2Link("p", f"unix://{path}", timeout=timeout, metrics=metrics, fail_fast_when_down=fail_fast)


@pytest.mark.parametrize("fail_fast", [True, False])
async def test_a_missing_socket_file_is_no_such_file_or_directory(short_tmp: Path, fail_fast: bool) -> None:
    path = short_tmp / "gone.sock"
    link = _link(path, fail_fast=fail_fast)
    try:
        with pytest.raises(KmsCallError) as caught:
            await link.status()
    finally:
        await link.close()
    assert caught.value.code == "DeadlineExceeded"
    assert str(caught.value) == DIAL.format(path=path, reason="no such file or directory")


@pytest.mark.parametrize("fail_fast", [True, False])
async def test_a_stale_socket_file_is_connection_refused(short_tmp: Path, fail_fast: bool) -> None:
    path = short_tmp / "stale.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))  # bound, never listening, then closed: the file stays behind
    server.close()
    assert path.exists()
    assert dial_error(parse_endpoint(f"unix://{path}")) == "connection refused"
    link = _link(path, fail_fast=fail_fast)
    try:
        with pytest.raises(KmsCallError) as caught:
            await link.status()
    finally:
        await link.close()
    assert str(caught.value) == DIAL.format(path=path, reason="connection refused")


async def test_a_server_that_accepts_and_never_answers_is_context_deadline_exceeded(short_tmp: Path) -> None:
    path = short_tmp / "mute.sock"
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # never speaks HTTP/2

    server = await asyncio.start_unix_server(hold, path=str(path))
    assert dial_error(parse_endpoint(f"unix://{path}")) is None
    link = _link(path, fail_fast=True)
    try:
        with pytest.raises(KmsCallError) as caught:
            await link.status()
    finally:
        await link.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert caught.value.code == "DeadlineExceeded"
    assert str(caught.value) == "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
