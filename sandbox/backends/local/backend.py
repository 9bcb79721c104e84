"""`LocalBackend`: the Backend contract on a real etcd and real kube-apiserver processes.

Everything is real and on loopback: one etcd, N kube-apiservers sharing it (HA), and the bundled
plugin(s) on Unix sockets, exactly as the simulator wires them (see `sandbox.backends.sim`):

* state in a short temp dir under /tmp (Unix socket paths are limited), removed on stop unless
  `keep`; logs of every process stay there (`logs()` returns them);
* plugin `i` serves `<state>/plugins/plugin-<i>.sock`; all plugins share one keyring;
* apiserver `i` reads `<state>/apiserver-<i>/encryption-config.yaml` with automatic reload on;
  `$PLUGIN_ENDPOINT` names its own plugin (i mod plugins), `$PLUGIN_ENDPOINT_<n>` plugin n;
* objects go through the `kubernetes` client (`KubeApi`), raw values through etcd's JSON gateway;
* time is real: `advance(70)` waits 70 s and reports progress. Nothing hastens the apiserver
  except what a user could do too.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import shutil
import tempfile
import time
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
from sandbox.backends.local import binaries as bins
from sandbox.backends.local.apiserver import LocalApiserver
from sandbox.backends.local.etcd_api import EtcdError, EtcdGateway
from sandbox.backends.local.pki import PkiPaths, generate_pki
from sandbox.backends.local.processes import ManagedProcess, ProcessError, start_etcd, stop
from sandbox.backends.local.state import KUBECONFIG_NAME, RunRecord, kubeconfig_text, remember_current
from sandbox.backends.plugin_fleet import PluginFleet
from sandbox.core.events import ApiserverLifecycle, ClockAdvanced, EventBus, LogLine, WaitProgress

if TYPE_CHECKING:
    from sandbox.kms.control_client import PluginControlClient
    from sandbox.kms.process import PluginProcess

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
"""The simulator's default, so a scenario without a config runs the same on both."""

PROGRESS_EVERY_S = 5.0
PLUGIN_START_TIMEOUT_S = 30.0
"""Generous: a Python plugin starting next to busy apiservers on 2 cores can take over 10 s."""


class LocalBackend(PluginFleet):
    """Real etcd + kube-apiserver(s) on loopback, wired to the bundled plugin(s)."""

    name = "local"
    VIRTUAL_TIME = False
    HA = True
    KMS_V1 = True
    RAW_ETCD_WRITE = True

    def __init__(self, options: BackendOptions, events: EventBus | None = None) -> None:
        super().__init__(options, events)
        if options.apiservers < 1 or options.plugins < 1:
            raise BackendError("apiservers and plugins must be at least 1")
        try:
            self.resolved = bins.resolve_for_run(options.kube_version)
        except bins.SetupError as exc:
            raise BackendError(str(exc)) from None
        self.minor = int(self.resolved.kube_version.split(".")[1])
        self.apiservers: list[LocalApiserver] = []
        self.plugins: list[PluginProcess] = []
        self.controls: list[PluginControlClient] = []
        self._relays: dict[int, asyncio.Task[None]] = {}
        self._relayed_up_to: dict[int, float] = {}
        self._etcd: ManagedProcess | None = None
        self._etcd_api: EtcdGateway | None = None
        self._pki: PkiPaths | None = None
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._record: RunRecord | None = None
        self._config_template = options.encryption_config or DEFAULT_CONFIG
        self.feature_gates = dict(options.feature_gates)
        self.start_seconds = 0.0
        """Wall time of the last `start()`, from nothing to every apiserver ready."""

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            raise BackendError("the local backend is not started")
        return self._state_dir

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / KUBECONFIG_NAME

    def plugin_api(self, index: int = 0) -> str:
        """As in the simulator: "v2,v1" gives plugin i entry i mod n; "v2" is the release's v2 name."""
        apis = [a.strip() for a in self.options.plugin_api.split(",")]
        api = apis[index % len(apis)]
        if api != "v2":
            return api
        if self.minor <= 26:
            return "v2alpha1"
        return "v2beta1" if self.minor <= 28 else "v2"

    def _log(self, text: str, level: str = "info", source: str = "local") -> None:
        self.events.publish(LogLine(time=time.time(), source=source, level=level, text=text))

    async def start(self) -> None:
        started = time.monotonic()
        if self.resolved.note:
            self._log(self.resolved.note, level="warning")
        self._state_dir = self._prepare_state_dir()
        try:
            await self._start_everything()
        except (ProcessError, EtcdError, OSError) as exc:
            await self.stop()
            raise BackendError(f"the local control plane did not start: {exc}") from None
        except BaseException:
            await self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        self._log(f"ready in {self.start_seconds:.1f} s; KUBECONFIG={self.kubeconfig_path}")

    def _prepare_state_dir(self) -> Path:
        """The given `state_dir` (reset), or a short temp dir under /tmp that stop() removes."""
        if self.options.state_dir:
            state = Path(self.options.state_dir).expanduser().absolute()
            state.mkdir(parents=True, exist_ok=True)
            _clear_previous_run(state)
            return state
        self._owns_state_dir = True
        return Path(tempfile.mkdtemp(prefix="kms-local-", dir="/tmp"))

    async def _start_everything(self) -> None:
        from sandbox.kms.control_client import PluginControlClient
        from sandbox.kms.process import PluginProcess

        state = self.state_dir
        # Plugins first: they are forked before this process opens any gRPC stream.
        for i in range(self.options.plugins):
            process = PluginProcess(state / "plugins", api=self.plugin_api(i), name=f"plugin-{i}")
            self.plugins.append(process)
            await process.start(timeout=PLUGIN_START_TIMEOUT_S)
        self._pki = await asyncio.to_thread(generate_pki, state / "pki")
        self._etcd, endpoint = await start_etcd(
            self.resolved.binaries.etcd, state / "etcd-data", state / "etcd.log"
        )
        self._etcd_api = EtcdGateway(endpoint.client_url)
        self._record = RunRecord(
            state_dir=str(state),
            kube_version=self.resolved.kube_version,
            kubeconfig=str(self.kubeconfig_path),
            etcd_url=endpoint.client_url,
            kept=self.options.keep or not self._owns_state_dir,
        )
        for i, process in enumerate(self.plugins):
            source = "plugin" if self.options.plugins == 1 else f"plugin-{i}"
            self.controls.append(PluginControlClient(process.control_endpoint, source=source))
            self._start_relay(i)
        for i in range(self.options.apiservers):
            self.apiservers.append(
                LocalApiserver(
                    index=i,
                    binary=self.resolved.binaries.kube_apiserver,
                    pki=self._pki,
                    etcd_url=endpoint.client_url,
                    work_dir=state / f"apiserver-{i}",
                    feature_gates=self.feature_gates,
                )
            )
            self._write_config(i, self._config_template)
        # Apiservers start in parallel: on 2 cores that is still faster than one after another.
        await asyncio.gather(*(self._start_apiserver(a, "started") for a in self.apiservers))
        await self._ensure_default_namespace()
        self.kubeconfig_path.write_text(kubeconfig_text(self.apiservers[0].url, self._pki))
        self.kubeconfig_path.chmod(0o600)
        self._record.apiservers = [a.url for a in self.apiservers]
        self._save_record()
        remember_current(state)

    async def _ensure_default_namespace(self, timeout: float = 30.0) -> None:
        """The bootstrap controller creates `default` just after start; scenarios write there at once."""
        api = self.apiservers[0].client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                await api.ensure_namespace("default")
                return
            except Exception as exc:  # not served yet (403/5xx while bootstrapping)
                if time.monotonic() > deadline:
                    raise ProcessError(f"namespace default could not be created: {exc}") from None
                await asyncio.sleep(0.2)

    async def _start_apiserver(self, apiserver: LocalApiserver, action: str) -> None:
        seconds = await apiserver.start()
        self.events.publish(
            ApiserverLifecycle(
                time=time.time(),
                source=f"apiserver-{apiserver.index}",
                action=action,
                detail=f"{apiserver.url} ready in {seconds:.1f} s",
            )
        )

    def _save_record(self) -> None:
        if self._record is None:
            return
        pids = {f"apiserver-{a.index}": a.process.pid for a in self.apiservers if a.process}
        if self._etcd is not None:
            pids["etcd"] = self._etcd.pid
        pids.update({p.name: p.pid for p in self.plugins if p.pid and p.running})
        self._record.pids = pids
        with contextlib.suppress(OSError):
            self._record.write()

    def config_path(self, index: int) -> Path:
        return self.apiservers[index].config_path

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
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.render_config(template, index))
        tmp.replace(path)  # atomic: the apiserver's reload poll never sees half a file

    async def stop(self) -> None:
        """Stops relays, apiservers, etcd and plugins (in that order); idempotent."""
        for task in self._relays.values():
            task.cancel()
        await asyncio.gather(*self._relays.values(), return_exceptions=True)
        self._relays.clear()
        await asyncio.gather(*(a.stop() for a in self.apiservers), return_exceptions=True)
        for apiserver in self.apiservers:
            apiserver.close()
        if self._etcd is not None:
            with contextlib.suppress(Exception):
                await stop(self._etcd)
            self._etcd = None
        for control in self.controls:
            with contextlib.suppress(Exception):
                await control.close()
        self.controls.clear()
        for process in self.plugins:
            with contextlib.suppress(Exception):
                await process.stop()
        if self._record is not None:
            self._record.running = False
            self._save_record()
        self.apiservers.clear()
        self.plugins.clear()
        if self._state_dir is not None and self._owns_state_dir and not self.options.keep:
            shutil.rmtree(self._state_dir, ignore_errors=True)
        self._state_dir = None
        self._record = None

    # --- plugin event relay ------------------------------------------------------------------

    def _start_relay(self, index: int) -> None:
        old = self._relays.pop(index, None)
        if old is not None:
            old.cancel()
        self._relays[index] = asyncio.get_running_loop().create_task(self._relay(index))

    async def _relay(self, index: int) -> None:
        """Republishes plugin `index`'s events; replays its buffer once, skipping what we already sent.

        The plugin is fresh when a relay starts (start, or start_plugin after a stop), so its
        buffer holds the calls made before the stream opened, e.g. the apiserver's first probe.
        """
        control = self.controls[index]
        newest = self._relayed_up_to.get(index, 0.0)
        try:
            async for event in control.watch_events(replay=1000):
                if event.time <= newest:
                    continue
                newest = self._relayed_up_to[index] = event.time
                self.events.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the plugin stopped: its stream ends; start_plugin relays again
            self._log(f"event stream ended: {exc}", level="debug", source=f"plugin-{index}")

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time()

    async def advance(self, seconds: float, reason: str = "") -> None:
        """Waits `seconds` of real time, publishing WaitProgress every few seconds."""
        if seconds < 0:
            raise BackendError(
                f"cannot advance time by {seconds} s: expected a non-negative number of seconds"
            )
        started = time.monotonic()
        deadline = started + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, PROGRESS_EVERY_S))
            if seconds >= PROGRESS_EVERY_S:
                self.events.publish(
                    WaitProgress(
                        time=time.time(),
                        source="clock",
                        waited=min(time.monotonic() - started, seconds),
                        total=seconds,
                        reason=reason,
                    )
                )
        self.events.publish(ClockAdvanced(time=time.time(), source="clock", seconds=seconds, reason=reason))

    # --- objects -----------------------------------------------------------------------------

    def _api(self, index: int) -> LocalApiserver:
        if not 0 <= index < len(self.apiservers):
            raise BackendError(
                f"no apiserver {index}: this run has {len(self.apiservers)} (0..{len(self.apiservers) - 1})"
            )
        return self.apiservers[index]

    async def create(
        self, kind: ObjectKind, namespace: str, name: str, data: Mapping[str, bytes], apiserver: int = 0
    ) -> OpResult:
        api = self._api(apiserver).client()
        if namespace != "default":
            with contextlib.suppress(Exception):
                await api.ensure_namespace(namespace)
        return await api.create(kind, namespace, name, data)

    async def get(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return await self._api(apiserver).client().get(kind, namespace, name)

    async def update(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        data: Mapping[str, bytes] | None = None,
        apiserver: int = 0,
    ) -> OpResult:
        return await self._api(apiserver).client().update(kind, namespace, name, data)

    async def delete(self, kind: ObjectKind, namespace: str, name: str, apiserver: int = 0) -> OpResult:
        return await self._api(apiserver).client().delete(kind, namespace, name)

    async def list(self, kind: ObjectKind, namespace: str | None = None, apiserver: int = 0) -> ListResult:
        return await self._api(apiserver).client().list(kind, namespace)

    async def migrate(
        self, kinds: tuple[ObjectKind, ...] = ("secrets",), apiserver: int = 0
    ) -> MigrationResult:
        return await self._api(apiserver).client().migrate(kinds)

    # --- etcd --------------------------------------------------------------------------------

    def _etcd_or_fail(self) -> EtcdGateway:
        if self._etcd_api is None:
            raise BackendError("the local backend is not started")
        return self._etcd_api

    async def etcd_get(self, key: str) -> bytes | None:
        try:
            return await self._etcd_or_fail().get(key)
        except EtcdError as exc:
            raise BackendError(str(exc)) from None

    async def etcd_keys(self, prefix: str) -> builtins.list[str]:
        try:
            return await self._etcd_or_fail().keys(prefix)
        except EtcdError as exc:
            raise BackendError(str(exc)) from None

    async def etcd_put(self, key: str, value: bytes) -> None:
        try:
            await self._etcd_or_fail().put(key, value)
        except EtcdError as exc:
            raise BackendError(str(exc)) from None

    # --- apiservers --------------------------------------------------------------------------

    @property
    def apiserver_count(self) -> int:
        return len(self.apiservers)

    async def restart_apiserver(self, index: int | None = None) -> None:
        """Stops the process(es) and starts them again on the same etcd and ports.

        Every target is stopped before any starts again: a full restart is a power cut, and
        no apiserver's memory (DEK cache, write state) survives it.
        """
        targets = self.apiservers if index is None else [self._api(index)]
        await asyncio.gather(*(a.stop() for a in targets))
        for apiserver in targets:
            self.events.publish(
                ApiserverLifecycle(time=time.time(), source=f"apiserver-{apiserver.index}", action="stopped")
            )
        try:
            await asyncio.gather(*(self._start_apiserver(a, "restarted") for a in targets))
        except ProcessError as exc:
            raise BackendError(f"an apiserver did not come back after its restart: {exc}") from None
        self._save_record()

    async def set_encryption_config(
        self, yaml_text: str, mode: Literal["reload", "restart"] = "reload"
    ) -> None:
        """Rewrites every apiserver's file atomically; `reload` leaves pickup to the 1-min poll."""
        self._config_template = yaml_text
        for i in range(len(self.apiservers)):
            self._write_config(i, yaml_text)
        self.events.publish(
            ApiserverLifecycle(
                time=time.time(),
                source="local",
                action="config-written",
                detail="the apiservers poll it every minute" if mode == "reload" else "restarting",
            )
        )
        if mode == "restart":
            await self.restart_apiserver(None)

    async def health(self, path: str = "/healthz/kms-providers", apiserver: int = 0) -> HealthResult:
        return await self._api(apiserver).client().health(path)

    async def metrics(self, apiserver: int = 0) -> str:
        return await self._api(apiserver).client().metrics()

    # --- plugin ------------------------------------------------------------------------------

    async def stop_plugin(self, index: int = 0) -> None:
        await self._plugin(index).stop()

    async def start_plugin(self, index: int = 0) -> None:
        await self._plugin(index).start(timeout=PLUGIN_START_TIMEOUT_S)
        self._start_relay(index)
        self._save_record()

    # --- reports -----------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        out = {
            "backend": self.name,
            "kubernetes": self.resolved.kube_version,
            "binaries": self.resolved.binaries.source,
            "plugin_api": self.plugin_api(),
        }
        if self.resolved.note:
            out["release_note"] = self.resolved.note
        return out

    def logs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for apiserver in self.apiservers:
            out[f"apiserver-{apiserver.index}"] = apiserver.read_log()
        if self._state_dir is not None and (self._state_dir / "etcd.log").exists():
            out["etcd"] = (self._state_dir / "etcd.log").read_text(errors="replace")
        for i, process in enumerate(self.plugins):
            if process.log_path.exists():
                out[f"plugin-{i}"] = process.log_path.read_text(errors="replace")
        return out


_RUN_ENTRIES = ("etcd-data", "etcd.log", "plugins", "pki", "kubeconfig", "local-sandbox.json")


def _clear_previous_run(state: Path) -> None:
    """A reused `--state-dir` starts fresh: only what an earlier run made there is removed."""
    for entry in [*(state / name for name in _RUN_ENTRIES), *state.glob("apiserver-[0-9]*")]:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
