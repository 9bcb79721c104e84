"""Endpoint parsing and defaults; shutdown ends open event streams promptly."""

from __future__ import annotations

import asyncio
import time

import pytest

from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.endpoint import Endpoint, EndpointError, default_control_endpoint, parse_endpoint
from tests.plugin.conftest import StartPlugin


@pytest.mark.parametrize(
    ("url", "endpoint", "target", "control"),
    [
        ("unix:///var/run/kms.sock", Endpoint("/var/run/kms.sock"), "unix:/var/run/kms.sock",
         "unix:///var/run/kms.control.sock"),
        ("unix:///tmp/plugin", Endpoint("/tmp/plugin"), "unix:/tmp/plugin", "unix:///tmp/plugin.control.sock"),
        ("unix:///@kms-provider.sock", Endpoint("kms-provider.sock", abstract=True),
         "unix-abstract:kms-provider.sock", "unix:///@kms-provider.sock.control"),
    ],
)  # fmt: skip
def test_parse_and_defaults(url: str, endpoint: Endpoint, target: str, control: str) -> None:
    parsed = parse_endpoint(url)
    assert parsed == endpoint
    assert parsed.grpc_target == target
    assert parsed.url == url
    assert default_control_endpoint(parsed).url == control


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "remote KMS provider can't use empty string as endpoint"),
        ("https://kms.example.com", 'unsupported scheme "https" for remote KMS provider'),
        ("unix://", "has no socket path"),
        ("unix:///@", "names an empty abstract socket"),
        ("unix:///" + "d" * 120 + "/kms.sock", "Unix sockets allow at most 107"),
    ],
)
def test_bad_endpoints(url: str, message: str) -> None:
    with pytest.raises(EndpointError) as err:
        parse_endpoint(url)
    assert message in str(err.value)


async def test_stopping_ends_followers_within_two_seconds(start_plugin: StartPlugin) -> None:
    received: list[object] = []
    async with start_plugin() as plugin:
        control = PluginControlClient(plugin.control.url)

        async def follow() -> None:
            async for event in control.watch_events(replay=0):
                received.append(event)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.2)
        plugin.service.rotate()
        await asyncio.sleep(0.2)
        started = time.monotonic()
    await asyncio.wait_for(follower, 2)  # the stream ended cleanly, it did not hang
    assert time.monotonic() - started < 2
    await control.close()
    assert len(received) == 1
