"""Run etcd and kube-apiserver as supervised asyncio child processes on loopback.

Why so careful: a teaching sandbox is started and killed constantly (Ctrl-C, failed tests, a
crashed TUI). A leaked etcd keeps its port and data dir locked and makes the next run fail in
confusing ways. So each child gets its own process group (stopping signals the whole group),
dies with its parent on Linux (PR_SET_PDEATHSIG), logs to a file instead of a pipe nobody
drains, and is stopped with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.backends.local.pki import PkiPaths

_PR_SET_PDEATHSIG = 1


class ProcessError(Exception):
    """A child exited early or did not become ready in time; the message ends with its log tail."""


@dataclass
class ManagedProcess:
    """A running child and where its output goes."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        """Last lines of the child's log, to make start-up failures self-explanatory."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A currently free loopback TCP port (the kernel's choice; a tiny reuse race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_DEATH_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL(None).prctl({_PR_SET_PDEATHSIG}, signal.SIGKILL, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(70)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
"""Sets PR_SET_PDEATHSIG, checks the parent is still there (closing the race), then execs."""


def _with_death_signal(argv: Sequence[str]) -> list[str]:
    """Wrap `argv` so the child is SIGKILLed when this process dies (Linux).

    Why a tiny Python launcher instead of a `preexec_fn`: a `preexec_fn` makes CPython fork()
    for real, and grpcio's fork handlers then run in the child and crash it whenever this
    process has a gRPC stream open (the backends always do: plugin event relays). Without one,
    CPython spawns with vfork and no handlers run; the launcher sets the signal after exec.
    """
    return [sys.executable, "-S", "-c", _DEATH_LAUNCHER, str(os.getpid()), *argv]


async def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    die_with_parent: bool = True,
) -> ManagedProcess:
    """Start `argv` in a new session (own process group) with output appended to `log_path`.

    `die_with_parent` ties the child to the *thread* that spawned it; turn it off if the event
    loop runs in a short-lived thread.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if die_with_parent and sys.platform == "linux":
        argv = _with_death_signal(argv)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return ManagedProcess(name=name, process=process, log_path=log_path)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


async def stop(proc: ManagedProcess, grace: float = 10.0) -> int | None:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds; return the exit code."""
    if proc.process.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.process.wait(), grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.process.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # grandchildren left in the group, if any
    return proc.process.returncode


@contextlib.asynccontextmanager
async def supervised(proc: ManagedProcess, grace: float = 10.0) -> AsyncIterator[ManagedProcess]:
    """Guarantee `stop` on every exit path, including cancellation."""
    try:
        yield proc
    finally:
        await asyncio.shield(stop(proc, grace))


async def wait_until_ready(
    proc: ManagedProcess, probe: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.2
) -> float:
    """Poll `probe` until it returns True; return seconds waited. Fails fast if the child exits."""
    started = time.monotonic()
    while True:
        if proc.process.returncode is not None:
            raise ProcessError(
                f"{proc.name} exited with code {proc.process.returncode} before becoming ready "
                f"(log {proc.log_path}):\n{proc.log_tail()}"
            )
        if await probe():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise ProcessError(
                f"{proc.name} not ready after {timeout:.0f}s (log {proc.log_path}):\n{proc.log_tail()}"
            )
        await asyncio.sleep(interval)


# --- HTTP probes -----------------------------------------------------------------------------


def client_ssl_context(pki: PkiPaths) -> ssl.SSLContext:
    """TLS context that trusts our CA and presents the system:masters admin certificate."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def _http_get_blocking(url: str, context: ssl.SSLContext | None, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


async def http_get(url: str, context: ssl.SSLContext | None = None, timeout: float = 5.0) -> tuple[int, str]:
    """GET `url` and return (status, body); non-2xx is a result, connection failure raises OSError."""
    return await asyncio.to_thread(_http_get_blocking, url, context, timeout)


async def _answers_ok(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        status, _ = await http_get(url, context, timeout=2.0)
    except OSError:
        return False
    return status == 200


# --- etcd ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtcdEndpoint:
    """Where a started etcd listens (plain HTTP: it is bound to loopback only)."""

    client_url: str
    peer_url: str


def etcd_command(etcd: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    """A single-member etcd on loopback. fsync is off: sandbox data is disposable and disks are slow."""
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        str(etcd),
        "--name=sandbox",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sandbox={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


async def start_etcd(
    etcd: Path, data_dir: Path, log_path: Path, timeout: float = 30.0
) -> tuple[ManagedProcess, EtcdEndpoint]:
    """Start etcd on free loopback ports and wait until `/health` answers."""
    client_port, peer_port = free_port(), free_port()
    proc = await spawn("etcd", etcd_command(etcd, data_dir, client_port, peer_port), log_path)
    endpoint = EtcdEndpoint(f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}")
    try:
        await wait_until_ready(proc, lambda: _answers_ok(f"{endpoint.client_url}/health", None), timeout)
    except BaseException:
        await asyncio.shield(stop(proc))
        raise
    return proc, endpoint


# --- kube-apiserver --------------------------------------------------------------------------


def apiserver_command(
    kube_apiserver: Path,
    pki: PkiPaths,
    etcd_url: str,
    secure_port: int,
    cert_dir: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Minimal flags for a standalone apiserver; `extra_args` come last so they can override."""
    return [
        str(kube_apiserver),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # The lease reconciler refuses a loopback advertise address; one server needs no endpoints.
        "--endpoint-reconciler-type=none",
        f"--secure-port={secure_port}",
        f"--cert-dir={cert_dir}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki.sa_public_key}",
        f"--service-account-signing-key-file={pki.sa_private_key}",
        "--service-cluster-ip-range=10.96.0.0/16",
        *extra_args,
    ]


@dataclass(frozen=True)
class ApiserverEndpoint:
    """Base URL of a started apiserver plus the TLS context to reach it as cluster-admin."""

    url: str
    ssl_context: ssl.SSLContext
    ready_seconds: float


async def start_kube_apiserver(
    kube_apiserver: Path,
    pki: PkiPaths,
    etcd_url: str,
    work_dir: Path,
    extra_args: Sequence[str] = (),
    timeout: float = 90.0,
    ready_path: str = "/readyz",
) -> tuple[ManagedProcess, ApiserverEndpoint]:
    """Start kube-apiserver on a free loopback port and wait until `ready_path` returns 200.

    Use `ready_path="/livez"` when a check is expected to fail (e.g. an unreachable KMS plugin
    keeps `/readyz` at 500 forever, but since 1.29 `/livez` does not include KMS checks).
    """
    port = free_port()
    argv = apiserver_command(kube_apiserver, pki, etcd_url, port, work_dir / "apiserver-certs", extra_args)
    proc = await spawn("kube-apiserver", argv, work_dir / "kube-apiserver.log")
    url, context = f"https://127.0.0.1:{port}", client_ssl_context(pki)
    try:
        seconds = await wait_until_ready(proc, lambda: _answers_ok(url + ready_path, context), timeout)
    except BaseException:
        await asyncio.shield(stop(proc))
        raise
    return proc, ApiserverEndpoint(url=url, ssl_context=context, ready_seconds=seconds)
