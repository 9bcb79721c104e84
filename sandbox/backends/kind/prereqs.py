"""Check what a kind cluster needs before touching anything: a running Docker (or Podman), kind,
a kind release that can run the chosen node image, and where the plugin can live.

Each failure is one sentence saying what is missing and what to install, because the people
reading it are workshop attendees on unfamiliar laptops. Where host Unix sockets cannot reach
the node containers (Docker Desktop runs containers in a VM, on macOS, Windows and also Linux),
the plugin must run inside the nodes; on a plain Linux Docker or Podman it runs on the host.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from sandbox.backends.kind.commands import CommandError, CommandRunner
from sandbox.backends.kind.images import ImageError, NodeImage, kind_release_problem, parse_kind_version
from sandbox.backends.kind.render import PluginPlacement

INSTALL_DOCKER = (
    "install Docker Engine (Linux) or Docker Desktop (macOS/Windows): https://docs.docker.com/get-docker/, "
    "or Podman: https://podman.io/docs/installation"
)
INSTALL_KIND = "install kind v0.33.0: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"


class PrerequisiteError(Exception):
    """Something the kind backend needs is missing; the message says what to install or start."""


@dataclass(frozen=True)
class Prerequisites:
    container_cli: str
    """"docker" or "podman"."""
    server_version: str
    kind_version: tuple[int, int, int]
    desktop: bool
    """Docker Desktop (containers in a VM: host Unix sockets do not reach them)."""
    kubectl: str | None
    """kubectl on PATH (optional: the sandbox talks to the API itself; attendees want it)."""
    host_os: str

    @property
    def placement(self) -> PluginPlacement:
        return "host" if self.host_os == "Linux" and not self.desktop else "node"

    @property
    def kind_release(self) -> str:
        return "v" + ".".join(map(str, self.kind_version))

    def summary(self) -> str:
        return (
            f"{self.container_cli} {self.server_version}{' (Desktop)' if self.desktop else ''}, "
            f"kind {self.kind_release}, kubectl {'found' if self.kubectl else 'not found'}, "
            f"plugin on the {self.placement}"
        )


async def _container_runtime(runner: CommandRunner, preferred: str) -> tuple[str, str, bool]:
    candidates = [preferred] + [c for c in ("docker", "podman") if c != preferred]
    found = [c for c in candidates if runner.which(c)]
    if not found:
        raise PrerequisiteError(f"neither docker nor podman is on PATH: {INSTALL_DOCKER}")
    problems = []
    for cli in found:
        result = await runner.run(
            [cli, "version", "--format", "{{.Server.Version}}"], check=False, timeout=20
        )
        version = result.text.strip()
        if result.ok and version:
            desktop = False
            if cli == "docker":
                info = await runner.run(
                    [cli, "info", "--format", "{{.OperatingSystem}}"], check=False, timeout=20
                )
                desktop = "Docker Desktop" in info.text
            return cli, version, desktop
        problems.append(f"{cli}: {result.stderr_tail(2) or 'no server version'}")
    hint = (
        "start Docker (Linux: sudo systemctl start docker; macOS/Windows: open Docker Desktop)"
        if found[0] == "docker"
        else "start the Podman machine (podman machine start) or service"
    )
    raise PrerequisiteError(
        f"{found[0]} is installed but its daemon is not reachable ({problems[0]}): {hint}"
    )


async def check_prerequisites(
    runner: CommandRunner, image: NodeImage, container_cli: str = "docker"
) -> Prerequisites:
    """Raises PrerequisiteError with an install hint for the first thing missing."""
    cli, server_version, desktop = await _container_runtime(runner, container_cli)
    runner.docker = cli
    if not runner.which("kind"):
        raise PrerequisiteError(f"kind is not on PATH: {INSTALL_KIND}")
    try:
        result = await runner.run(["kind", "version"], timeout=20)
        kind_version = parse_kind_version(result.text)
    except (CommandError, ImageError) as exc:
        raise PrerequisiteError(f"cannot run `kind version` ({exc}): {INSTALL_KIND}") from None
    problem = kind_release_problem(kind_version, image)
    if problem:
        raise PrerequisiteError(problem)
    return Prerequisites(
        container_cli=cli,
        server_version=server_version,
        kind_version=kind_version,
        desktop=desktop,
        kubectl=runner.which("kubectl"),
        host_os=platform.system(),
    )
