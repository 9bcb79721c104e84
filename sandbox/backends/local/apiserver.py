"""One real kube-apiserver of the local backend: its flags, port, config file, process and client.

The port is chosen once and kept across restarts, so a restarted apiserver is reachable at the
same address (kubectl users beside the sandbox keep working) and the kubeconfig stays valid.
Each apiserver reads its own EncryptionConfiguration file: `$PLUGIN_ENDPOINT` expands to that
apiserver's own plugin, as in the simulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.backends.kube_api import KubeApi
from sandbox.backends.local.pki import PkiPaths
from sandbox.backends.local.processes import (
    ManagedProcess,
    ProcessError,
    apiserver_command,
    free_port,
    spawn,
    stop,
)

LOG_FLAGS = ("-v=3", "--vmodule=envelope=6,grpc_service=6")
"""-v=3 logs every HTTP request (with its audit ID); the KMS v2 envelope and gRPC files at 6 log
each request uid ("encrypting content using envelope service" uid=...). A global -v=6 would
bury those under a line per OpenAPI aggregation tick every second."""

STOP_GRACE_S = 10.0
READY_TIMEOUT_S = 90.0


def gate_flag(gates: Mapping[str, bool]) -> list[str]:
    """`--feature-gates=A=true,B=false` in a stable order, or nothing."""
    if not gates:
        return []
    return ["--feature-gates=" + ",".join(f"{k}={str(v).lower()}" for k, v in sorted(gates.items()))]


@dataclass
class LocalApiserver:
    """Flags and process of apiserver `index`; `start()` and `stop()` may be repeated."""

    index: int
    binary: Path
    pki: PkiPaths
    etcd_url: str
    work_dir: Path
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None
    api: KubeApi | None = None
    last_ready_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.work_dir / "encryption-config.yaml"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "kube-apiserver.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.process.returncode is None

    def command(self) -> list[str]:
        extra = [
            f"--encryption-provider-config={self.config_path}",
            "--encryption-provider-config-automatic-reload=true",
            *LOG_FLAGS,
            *gate_flag(self.feature_gates),
        ]
        return apiserver_command(
            self.binary, self.pki, self.etcd_url, self.port, self.work_dir / "certs", extra
        )

    def client(self) -> KubeApi:
        if self.api is None:
            self.api = KubeApi.from_parts(
                self.url, str(self.pki.ca_cert), str(self.pki.admin_cert), str(self.pki.admin_key)
            )
        return self.api

    async def start(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Starts the process and waits until it is live; returns the seconds it took.

        Live, not ready: `/livez` covers etcd and every post-start hook (RBAC and namespace
        bootstrap), while `/readyz` also waits for KMS health and the watch caches, which stay
        failing for good when the plugin is down or cannot Decrypt: exactly the states restart
        lessons are about. The first KMS probe runs inline while the config loads, before the
        apiserver serves anything (spec 4.2), so a healthy plugin is primed by then.
        """
        if self.running:
            raise ProcessError(f"apiserver {self.index} is already running")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.process = await spawn(f"kube-apiserver-{self.index}", self.command(), self.log_path)
        try:
            await self._wait_ready(started + timeout)
        except BaseException:
            await asyncio.shield(self.stop())
            raise
        self.last_ready_seconds = time.monotonic() - started
        return self.last_ready_seconds

    async def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        api = self.client()
        while True:
            if self.process.process.returncode is not None:
                raise ProcessError(
                    f"kube-apiserver {self.index} exited with code {self.process.process.returncode} "
                    f"while starting (log {self.log_path}):\n{self.process.log_tail()}"
                )
            answer = await api.raw_get("/livez")
            if answer.ok:
                return
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"kube-apiserver {self.index} not live in time (last /livez: HTTP {answer.code}; "
                    f"log {self.log_path}):\n{self.process.log_tail()}"
                )
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; idempotent."""
        if self.process is not None:
            await stop(self.process, STOP_GRACE_S)
            self.process = None

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
            self.api = None

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
