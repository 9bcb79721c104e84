"""The `sim` backend: simulated apiserver(s) over an in-memory etcd, with the REAL bundled plugin.

The plugin runs as a real subprocess (one, or one per apiserver for HA lessons) and the
simulated apiservers talk to it only over gRPC on its Unix socket. Time is virtual by default:
`advance(180)` fires every probe, poll and expiry due in those three minutes, instantly.

Defaults (see docs/simulator.md):

* state in a temp dir under /tmp (short socket paths), removed on stop unless `keep`;
* plugin `i` listens on `<state>/plugins/plugin-<i>.sock`, control API next to it; all plugins
  share one keyring (`<state>/plugins/keyring.json`, read at plugin start);
* each apiserver reads `<state>/apiserver-<i>/encryption-config.yaml`; in a config text
  `$PLUGIN_ENDPOINT` names that apiserver's own plugin (apiserver i uses plugin i mod plugins)
  and `$PLUGIN_ENDPOINT_<n>` plugin n;
* the default config: secrets → KMS v2 provider `kms-provider` at the plugin, then identity;
* the plugin reports the Status version each release demands (v2alpha1 for 1.25/1.26, v2beta1
  for 1.27/1.28, v2 after) unless `plugin_api` asks for something else than "v2", and on
  1.25/1.26 the `KMSv2` gate is switched on unless the options set it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sandbox.backends.base import (
    BackendError,
    BackendOptions,
    HealthResult,
    ListResult,
    MigrationResult,
    ObjectKind,
    OpResult,
)
from sandbox.backends.plugin_fleet import PluginFleet
from sandbox.core.errors import SandboxError
from sandbox.core.events import ClockAdvanced, EventBus, LogLine
from sandbox.core.releases import ReleaseProfile, profile_for
from sandbox.sim.api_types import ApiResponse, ApiserverSettings, ApiserverStartError
from sandbox.sim.apiserver import SimApiserver
from sandbox.sim.clock import Clock, make_clock
from sandbox.sim.store import DEFAULT_PREFIX, MemoryStore, normalize_prefix

if TYPE_CHECKING:
    from sandbox.kms.control_client import PluginControlClient
    from sandbox.kms.process import PluginProcess

DEFAULT_PROVIDER = "kms-provider"
DEFAULT_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - kms:
          apiVersion: v2
          name: kms-provider
          endpoint: $PLUGIN_ENDPOINT
          timeout: 3s
      - identity: {}
"""


def _to_op(response: ApiResponse) -> OpResult:
    return OpResult(
        ok=response.ok,
        code=response.code,
        reason=response.reason,
        message=response.message,
        resource_version=response.resource_version,
        data=dict(response.data),
    )


class SimBackend(PluginFleet):
    """Simulated control plane(s) + real plugin process(es)."""

    name = "sim"
    VIRTUAL_TIME = True
    HA = True
    KMS_V1 = True
    RAW_ETCD_WRITE = True

    def __init__(
        self,
        options: BackendOptions,
        events: EventBus | None = None,
        *,
        storage_prefix: str = DEFAULT_PREFIX,
        watch_cache: bool = True,
    ) -> None:
        super().__init__(options, events)
        try:
            self.release: ReleaseProfile = profile_for(options.kube_version)
        except SandboxError as exc:
            raise BackendError(str(exc)) from None
        if options.apiservers < 1 or options.plugins < 1:
            raise BackendError("apiservers and plugins must be at least 1")
        self.clock: Clock = make_clock(options.virtual_time)
        self.store = MemoryStore()
        self.storage_prefix = normalize_prefix(storage_prefix) or DEFAULT_PREFIX
        self.watch_cache = watch_cache
        self.apiservers: list[SimApiserver] = []
        self.plugins: list[PluginProcess] = []
        self.controls: list[PluginControlClient] = []
        self._relays: dict[int, asyncio.Task[None]] = {}
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._config_template = options.encryption_config or DEFAULT_CONFIG
        self.feature_gates = dict(options.feature_gates)
        if self.release.minor <= 26:
            self.feature_gates.setdefault("KMSv2", True)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            raise BackendError("the sim backend is not started")
        return self._state_dir

    def plugin_api(self, index: int = 0) -> str:
        # "v2,v1" gives each plugin its own API (plugin i takes entry i mod n): mixed v1/v2 lessons.
        apis = [a.strip() for a in self.options.plugin_api.split(",")]
        api = apis[index % len(apis)]
        if api != "v2":
            return api
        if self.release.minor <= 26:
            return "v2alpha1"
        return "v2beta1" if self.release.minor <= 28 else "v2"

    async def start(self) -> None:
        from sandbox.kms.control_client import PluginControlClient
        from sandbox.kms.process import PluginProcess

        if self.options.state_dir:
            self._state_dir = Path(self.options.state_dir)
            self._state_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._state_dir = Path(tempfile.mkdtemp(prefix="kms-sim-", dir="/tmp"))
            self._owns_state_dir = True
        try:
            # All plugins share one state dir, hence one keyring: like HA plugins in front of one
            # remote KMS, any of them can unwrap what another wrapped. Every plugin is forked
            # before this process opens a gRPC stream (grpcio's fork handlers can crash a child
            # forked while a streaming call is active).
            for i in range(self.options.plugins):
                process = PluginProcess(
                    self.state_dir / "plugins", api=self.plugin_api(i), name=f"plugin-{i}"
                )
                self.plugins.append(process)
                await process.start()
            for i, process in enumerate(self.plugins):
                source = "plugin" if self.options.plugins == 1 else f"plugin-{i}"
                self.controls.append(PluginControlClient(process.control_endpoint, source=source))
                self._start_relay(i)
            for i in range(self.options.apiservers):
                self._write_config(i, self._config_template)
                apiserver = SimApiserver(self._settings(i), self.store, self.clock, self.events)
                self.apiservers.append(apiserver)
                await apiserver.start()
        except ApiserverStartError as exc:
            await self.stop()
            raise BackendError(f"apiserver failed to start: {exc}") from None
        except BaseException:
            await self.stop()
            raise

    def _settings(self, index: int) -> ApiserverSettings:
        return ApiserverSettings(
            release=self.release,
            config_path=self.config_path(index),
            index=index,
            storage_prefix=self.storage_prefix,
            feature_gates=self.feature_gates,
            automatic_reload=True,
            watch_cache=self.watch_cache,
            fail_fast_when_down=self.clock.virtual,
        )

    def config_path(self, index: int) -> Path:
        return self.state_dir / f"apiserver-{index}" / "encryption-config.yaml"

    def plugin_kms_endpoint(self, index: int = 0) -> str:
        return self.plugins[index].kms_endpoint

    def render_config(self, template: str, apiserver: int) -> str:
        own = self.plugin_kms_endpoint(apiserver % len(self.plugins))
        text = template
        for n in reversed(range(len(self.plugins))):
            text = text.replace(f"$PLUGIN_ENDPOINT_{n}", self.plugin_kms_endpoint(n))
        return text.replace("$PLUGIN_ENDPOINT", own)

    def _write_config(self, index: int, template: str) -> None:
        path = self.config_path(index)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.render_config(template, index))
        os.replace(tmp, path)  # atomic, as the reload tests require

    async def stop(self) -> None:
        for task in self._relays.values():
            task.cancel()
        await asyncio.gather(*self._relays.values(), return_exceptions=True)
        self._relays.clear()
        for apiserver in self.apiservers:
            with contextlib.suppress(Exception):
                await apiserver.close()
        self.apiservers.clear()
        for control in self.controls:
            with contextlib.suppress(Exception):
                await control.close()
        self.controls.clear()
        for process in self.plugins:
            with contextlib.suppress(Exception):
                await process.stop()
        self.plugins.clear()
        await self.clock.aclose()
        if self._state_dir is not None and self._owns_state_dir and not self.options.keep:
            shutil.rmtree(self._state_dir, ignore_errors=True)
        self._state_dir = None

    # --- plugin event relay ------------------------------------------------------------------

    def _start_relay(self, index: int) -> None:
        old = self._relays.pop(index, None)
        if old is not None:
            old.cancel()
        self._relays[index] = asyncio.get_running_loop().create_task(self._relay(index))

    async def _relay(self, index: int) -> None:
        """Republishes the plugin's call events on our bus, stamped with the run's clock.

        Each plugin process is fresh when the relay connects, so replaying its whole buffer
        catches the calls made before the stream was established (the first prime).
        """
        control = self.controls[index]
        try:
            async for event in control.watch_events(replay=1000):
                self.events.publish(dataclasses.replace(event, time=self.clock.now()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the plugin stopped: its stream ends; start_plugin relays again
            self.events.publish(
                LogLine(
                    time=self.clock.now(),
                    source=f"plugin-{index}",
                    level="debug",
                    text=f"event stream ended: {exc}",
                )
            )

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    async def advance(self, seconds: float, reason: str = "") -> None:
        if seconds < 0:
            raise BackendError(
                f"cannot advance time by {seconds} s: expected a non-negative number of seconds"
            )
        await self.clock.advance(seconds)
        self.events.publish(
            ClockAdvanced(time=self.clock.now(), source="clock", seconds=seconds, reason=reason)
        )

    # --- objects -----------------------------------------------------------------------------

    def _api(self, index: int) -> SimApiserver:
        if not 0 <= index < len(self.apiservers):
            raise BackendError(
                f"no apiserver {index}: this run has {len(self.apiservers)} (0..{len(self.apiservers) - 1})"
            )
        return self.apiservers[index]

    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes], apiserver: int = 0
    ) -> OpResult:
        return _to_op(await self._api(apiserver).create(kind, namespace, name, data))

    async def get(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return _to_op(await self._api(apiserver).get(kind, namespace, name))

    async def update(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        data: Mapping[str, bytes] | None = None,
        apiserver: int = 0,
    ) -> OpResult:
        return _to_op(await self._api(apiserver).update(kind, namespace, name, data))

    async def delete(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return _to_op(await self._api(apiserver).delete(kind, namespace, name))

    async def list(self, kind: ObjectKind, namespace: str | None = None, apiserver: int = 0) -> ListResult:
        response = await self._api(apiserver).list(kind, namespace)
        return ListResult(ok=response.ok, items=response.items, code=response.code, message=response.message)

    async def migrate(
        self, kinds: tuple[ObjectKind, ...] = ("secrets",), apiserver: int = 0
    ) -> MigrationResult:
        total, rewritten, failed = await self._api(apiserver).migrate(kinds)
        return MigrationResult(total=total, rewritten=rewritten, failed=tuple(failed))

    # --- etcd --------------------------------------------------------------------------------

    async def etcd_get(self, key: str) -> bytes | None:
        kv = self.store.get(key)
        return kv.value if kv is not None else None

    async def etcd_keys(self, prefix: str) -> builtins.list[str]:
        return self.store.keys(prefix)

    async def etcd_put(self, key: str, value: bytes) -> None:
        kv = self.store.put(key, value)
        await self.store.deliver(kv)

    def etcd_prefix(self) -> str:
        return self.storage_prefix

    # --- apiservers --------------------------------------------------------------------------

    @property
    def apiserver_count(self) -> int:
        return len(self.apiservers)

    async def restart_apiserver(self, index: int | None = None) -> None:
        targets = self.apiservers if index is None else [self._api(index)]
        for apiserver in targets:
            try:
                await apiserver.restart()
            except ApiserverStartError:
                pass  # it stays down; its API answers 503 with the start error, as a crash-looping pod

    async def set_encryption_config(
        self, yaml_text: str, mode: Literal["reload", "restart"] = "reload"
    ) -> None:
        self._config_template = yaml_text
        for i in range(len(self.apiservers)):
            self._write_config(i, yaml_text)
        if mode == "restart":
            await self.restart_apiserver(None)
            return
        for apiserver in self.apiservers:
            await apiserver.reloader.notify_file_changed()

    def set_feature_gates(self, gates: Mapping[str, bool]) -> None:
        """Sim only: flips gates at runtime (e.g. KMSv2KDF on 1.28, INT-3 step 9)."""
        self.feature_gates.update(gates)
        for apiserver in self.apiservers:
            apiserver.set_feature_gates(self.feature_gates)

    async def health(self, path: str = "/healthz/kms-providers", apiserver: int = 0) -> HealthResult:
        answer = await self._api(apiserver).health(path)
        return HealthResult(code=answer.code, body=answer.body)

    async def metrics(self, apiserver: int = 0) -> str:
        return self._api(apiserver).metrics_text()

    def reset_metrics(self, apiserver: int | None = None) -> None:
        """`DELETE /metrics` on one apiserver (or all), as upstream's integration tests do."""
        for api in self.apiservers if apiserver is None else [self._api(apiserver)]:
            api.reset_metrics()

    # --- plugin ------------------------------------------------------------------------------

    async def stop_plugin(self, index: int = 0) -> None:
        process = self._plugin(index)
        await process.stop()

    async def start_plugin(self, index: int = 0) -> None:
        process = self._plugin(index)
        await process.start()
        self._start_relay(index)

    # --- reports -----------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        out = {"backend": self.name, "kubernetes": self.release.name, "plugin_api": self.plugin_api()}
        if self.release.note:
            out["release_note"] = self.release.note  # e.g. 1.37 is modelled as 1.36
        return out

    def logs(self) -> dict[str, str]:
        out = {}
        for i, process in enumerate(self.plugins):
            if process.log_path.exists():
                out[f"plugin-{i}"] = process.log_path.read_text(errors="replace")
        return out
