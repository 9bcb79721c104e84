"""`serve()`: run the bundled plugin on its KMS socket and its control socket until told to stop.

Shared by `kms-sandbox plugin serve`, `PluginProcess` (through the CLI) and in-process tests
(through `running_plugin`). Socket hygiene follows what kubelets and apiservers need:

- the socket directory is created 0700 and the socket chmod'ed 0600 right after bind;
- a leftover socket file is removed only when nothing answers on it (a `kill -9` leaves one
  behind, and a plugin that cannot reclaim it never comes back: scenario PP-9); if another
  plugin answers, we refuse to start instead of stealing its path (grpc would silently unlink it);
- SIGTERM/SIGINT stop the servers gracefully (1 s grace for in-flight calls, 2 s in all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from sandbox.core.events import EventBus
from sandbox.kms.control_servicer import add_control_servicer
from sandbox.kms.endpoint import Endpoint, EndpointError, default_control_endpoint, parse_endpoint
from sandbox.kms.keystore import KeyringFile, KeystoreError, ensure_private_dir
from sandbox.kms.metrics import start_metrics_server
from sandbox.kms.model import API_FLAVOURS
from sandbox.kms.parent_watch import process_exists, wait_for_exit
from sandbox.kms.service import PluginService
from sandbox.kms.servicers import add_kms_servicer

log = logging.getLogger("sandbox.kms")

GRACE_S = 1.0


class ServeError(Exception):
    """The plugin cannot start; the message says why and what to do (the CLI exits 2)."""


@dataclass(frozen=True)
class ServeConfig:
    listen: str
    state_dir: Path
    api: str = "v2"
    control: str | None = None
    """None: next to the KMS socket (`<name>.control.sock`)."""
    metrics_port: int | None = None
    """None: no metrics endpoint; 0: any free loopback port."""
    exit_with_parent: int | None = None
    """Stop gracefully when this process exits (no orphans if the launcher dies, even by SIGKILL)."""


@dataclass
class RunningPlugin:
    service: PluginService
    kms: Endpoint
    control: Endpoint
    metrics_port: int | None
    stop: asyncio.Event


def _answers(endpoint: Endpoint) -> bool:
    """True when something accepts connections on the socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(endpoint.socket_address)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except TimeoutError:
            return True  # a full backlog still means a live listener
        except OSError as exc:
            raise ServeError(f"cannot check socket {endpoint.url}: {exc.strerror or exc}") from None
        return True


def _claim(endpoint: Endpoint, role: str) -> None:
    """Makes the socket address free to bind, or raises ServeError if someone is serving on it."""
    if _answers(endpoint):
        raise ServeError(
            f"another process is already serving on the {role} socket {endpoint.url}; "
            "stop it first or choose another path"
        )
    if endpoint.abstract:
        return
    path = Path(endpoint.path)
    ensure_private_dir(path.parent)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ServeError(
            f"{path} exists and is not a socket; refusing to replace it (remove it or pick another path)"
        )
    path.unlink()
    log.info("removed stale socket", extra={"fields": {"path": str(path)}})


async def _bind(server: grpc.aio.Server, endpoint: Endpoint, role: str) -> None:
    try:
        port = server.add_insecure_port(endpoint.grpc_target)
    except RuntimeError as exc:
        raise ServeError(f"cannot listen on the {role} socket {endpoint.url}: {exc}") from None
    if port == 0:
        raise ServeError(f"cannot listen on the {role} socket {endpoint.url}")


def _unlink_socket(endpoint: Endpoint) -> None:
    if endpoint.abstract:
        return
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(endpoint.path).st_mode):
            os.unlink(endpoint.path)


@contextlib.asynccontextmanager
async def running_plugin(config: ServeConfig, *, bus: EventBus | None = None) -> AsyncIterator[RunningPlugin]:
    """Starts the plugin's servers; yields once both sockets accept calls; stops them on exit."""
    if config.api not in API_FLAVOURS:
        raise ServeError(f"unknown --api {config.api!r}; expected one of {', '.join(API_FLAVOURS)}")
    try:
        kms = parse_endpoint(config.listen)
        control = parse_endpoint(config.control) if config.control else default_control_endpoint(kms)
    except EndpointError as exc:
        raise ServeError(str(exc)) from None
    if kms == control:
        raise ServeError(f"the KMS and control sockets must differ (both are {kms.url})")
    if config.exit_with_parent is not None and (
        config.exit_with_parent <= 0 or not process_exists(config.exit_with_parent)
    ):
        raise ServeError(
            f"--exit-with-parent {config.exit_with_parent}: no such process; "
            "expected the pid of a live process"
        )
    store = KeyringFile(config.state_dir)
    try:
        ring = store.load_or_create()
    except (KeystoreError, OSError) as exc:
        raise ServeError(str(exc)) from None
    _claim(kms, "KMS")
    _claim(control, "control")

    service = PluginService(ring, api=config.api, store=store, bus=bus, listen=kms.url)
    stop = asyncio.Event()
    kms_server = grpc.aio.server()
    add_kms_servicer(kms_server, service)
    control_server = grpc.aio.server()
    add_control_servicer(control_server, service, stop)
    metrics: asyncio.Server | None = None
    try:
        await _bind(kms_server, kms, "KMS")
        await _bind(control_server, control, "control")
        await kms_server.start()
        await control_server.start()
        for endpoint in (kms, control):
            if not endpoint.abstract:
                os.chmod(endpoint.path, 0o600)
        metrics_port = None
        if config.metrics_port is not None:
            try:
                metrics = await start_metrics_server(service, config.metrics_port)
            except OSError as exc:
                raise ServeError(
                    f"cannot serve metrics on 127.0.0.1:{config.metrics_port}: {exc.strerror}"
                ) from None
            metrics_port = metrics.sockets[0].getsockname()[1]
        log.info(
            "serving",
            extra={
                "fields": {
                    "api": config.api,
                    "listen": kms.url,
                    "control": control.url,
                    "metrics_port": metrics_port,
                    "key_id": ring.current_id,
                    "pid": os.getpid(),
                }
            },
        )
        yield RunningPlugin(service, kms, control, metrics_port, stop)
    finally:
        service.close_watchers()
        if service.outage == "hang":
            service.set_outage("none")  # release hung calls so they finish within the grace
        await asyncio.gather(kms_server.stop(GRACE_S), control_server.stop(GRACE_S))
        if metrics is not None:
            metrics.close()
        for endpoint in (kms, control):
            _unlink_socket(endpoint)
        log.info("stopped", extra={"fields": {"pid": os.getpid()}})


async def _stop_when_gone(pid: int, stop: asyncio.Event) -> None:
    await wait_for_exit(pid)
    log.warning("parent process went away; stopping", extra={"fields": {"parent_pid": pid}})
    stop.set()


async def serve(
    config: ServeConfig, *, bus: EventBus | None = None, stop: asyncio.Event | None = None
) -> None:
    """Runs the plugin until SIGTERM/SIGINT, `stop` is set, or the parent process goes away."""
    async with running_plugin(config, bus=bus) as plugin:
        stop_event = stop or plugin.stop
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop_event.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread: the caller stops us through `stop`
        parent = config.exit_with_parent
        watchdog = asyncio.create_task(_stop_when_gone(parent, stop_event)) if parent else None
        try:
            await stop_event.wait()
            log.info("stopping", extra={"fields": {"reason": "signal or stop request"}})
        finally:
            if watchdog is not None:
                watchdog.cancel()
            for sig in installed:
                loop.remove_signal_handler(sig)
            plugin.stop.set()
