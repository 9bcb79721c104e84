"""Fixtures for the simulator tests: a Base64 test plugin on a real socket, and apiservers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from sandbox.core.events import EventBus
from sandbox.core.releases import profile_for
from sandbox.sim.api_types import ApiserverSettings
from sandbox.sim.apiserver import SimApiserver
from sandbox.sim.clock import VirtualClock
from sandbox.sim.store import MemoryStore
from tests.sim.base64_plugin import Base64Plugin, serve_base64


def v2_config(
    endpoint: str, name: str = "kms-provider", resources: str = "secrets", then_identity: bool = True
) -> str:
    identity = "\n      - identity: {}" if then_identity else ""
    return f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [{resources}]
    providers:
      - kms:
          apiVersion: v2
          name: {name}
          endpoint: {endpoint}{identity}
"""


@pytest.fixture
async def b64(short_tmp: Path) -> AsyncIterator[Base64Plugin]:
    async with serve_base64(short_tmp) as plugin:
        yield plugin


ApiFactory = Callable[..., Coroutine[Any, Any, SimApiserver]]


@pytest.fixture
async def make_api(short_tmp: Path) -> AsyncIterator[ApiFactory]:
    """Builds and starts SimApiservers; closes them after the test."""
    made: list[SimApiserver] = []

    async def make(
        config: str,
        *,
        version: str = "",
        store: MemoryStore | None = None,
        clock: VirtualClock | None = None,
        bus: EventBus | None = None,
        prefix: str = "/registry",
        gates: dict[str, bool] | None = None,
        index: int = 0,
        reload: bool = True,
        start: bool = True,
        watch_cache: bool = True,
    ) -> SimApiserver:
        path = short_tmp / f"enc-{index}-{len(made)}.yaml"
        path.write_text(config)
        settings = ApiserverSettings(
            release=profile_for(version),
            config_path=path,
            index=index,
            storage_prefix=prefix,
            feature_gates=gates or {},
            automatic_reload=reload,
            fail_fast_when_down=True,
            watch_cache=watch_cache,
        )
        shared = store if store is not None else MemoryStore()  # an empty store is falsy
        api = SimApiserver(settings, shared, clock or VirtualClock(), bus or EventBus())
        made.append(api)
        if start:
            await api.start()
        return api

    yield make
    for api in made:
        await api.close()


def corrupt(key: str, error: str) -> str:
    """The real v1.37.2 apiserver's answer to a read whose stored value did not transform."""
    return (
        f"Internal error occurred: StorageError: corrupt object, Code: 7, Key: {key}, "
        f"ResourceVersion: 0, AdditionalErrorMsg: data from the storage is not transformable "
        f"revision=0: {error}"
    )
