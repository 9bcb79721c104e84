"""Fixtures: a real plugin on real Unix sockets, in-process (fast) or as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from sandbox.kms.client import KmsV2Client
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.server import RunningPlugin, ServeConfig, running_plugin

StartPlugin = Callable[..., AbstractAsyncContextManager[RunningPlugin]]


@pytest.fixture
def start_plugin(short_tmp: Path) -> StartPlugin:
    """Returns `start(api="v2", **config)`: an async context manager running an in-process plugin."""

    def start(
        api: str = "v2", name: str = "kms", **overrides: object
    ) -> AbstractAsyncContextManager[RunningPlugin]:
        settings: dict[str, object] = {
            "listen": f"unix://{short_tmp}/sock/{name}.sock",
            "state_dir": short_tmp / "state",
            "api": api,
            **overrides,
        }
        config = ServeConfig(**settings)  # type: ignore[arg-type]
        return running_plugin(config)

    return start


@pytest.fixture
async def plugin(start_plugin: StartPlugin) -> AsyncIterator[RunningPlugin]:
    async with start_plugin() as running:
        yield running


@pytest.fixture
async def kms(plugin: RunningPlugin) -> AsyncIterator[KmsV2Client]:
    client = KmsV2Client(plugin.kms.url, timeout=3.0)
    yield client
    await client.close()


@pytest.fixture
async def control(plugin: RunningPlugin) -> AsyncIterator[PluginControlClient]:
    client = PluginControlClient(plugin.control.url)
    yield client
    await client.close()
