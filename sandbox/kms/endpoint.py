"""KMS endpoints (`unix:///path/kms.sock`, `unix:///@name`) parsed as the apiserver parses them.

Mirrors the rules of upstream `ParseEndpoint` (spec 2.6): the scheme must be `unix`, the URL
path is the socket path, and a path starting with `/@` names a Linux abstract socket. The same
parsed form gives the grpc target (`unix:/path` or `unix-abstract:name`) for clients and servers.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

MAX_SOCKET_PATH = 107
"""sun_path holds 108 bytes including the terminating NUL."""


class EndpointError(ValueError):
    """An endpoint string the apiserver would refuse too; the message is upstream's."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed Unix socket endpoint."""

    path: str
    """Filesystem path, or the abstract name without its leading '@'."""
    abstract: bool = False

    @property
    def grpc_target(self) -> str:
        return f"unix-abstract:{self.path}" if self.abstract else f"unix:{self.path}"

    @property
    def url(self) -> str:
        return f"unix:///@{self.path}" if self.abstract else f"unix://{self.path}"

    @property
    def socket_address(self) -> str:
        """The address for `socket.connect` (a NUL-prefixed name for abstract sockets)."""
        return f"\0{self.path}" if self.abstract else self.path

    def __str__(self) -> str:
        return self.url


def parse_endpoint(endpoint: str) -> Endpoint:
    """`unix:///var/run/kms.sock` -> Endpoint("/var/run/kms.sock"); `unix:///@x` -> abstract "x"."""
    if not endpoint:
        raise EndpointError("remote KMS provider can't use empty string as endpoint")
    try:
        parsed = urlparse(endpoint)
    except ValueError as exc:
        raise EndpointError(f"invalid endpoint {endpoint!r}: {exc}") from None
    if parsed.scheme != "unix":
        raise EndpointError(f'unsupported scheme "{parsed.scheme}" for remote KMS provider')
    path = parsed.path
    if path.startswith("/@"):
        name = path[2:]
        if not name:
            raise EndpointError(
                f"endpoint {endpoint!r} names an empty abstract socket; expected unix:///@name"
            )
        return Endpoint(name, abstract=True)
    if not path:
        raise EndpointError(f"endpoint {endpoint!r} has no socket path; expected unix:///path/to/kms.sock")
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise EndpointError(
            f"socket path {path!r} is {len(path.encode())} bytes; Unix sockets allow at most "
            f"{MAX_SOCKET_PATH} (use a shorter directory)"
        )
    return Endpoint(path)


def default_control_endpoint(kms: Endpoint) -> Endpoint:
    """The control socket next to the KMS one: kms.sock -> kms.control.sock, @x -> @x.control."""
    if kms.abstract:
        return Endpoint(f"{kms.path}.control", abstract=True)
    path = Path(kms.path)
    stem = path.name[: -len(".sock")] if path.name.endswith(".sock") else path.name
    return Endpoint(str(path.with_name(f"{stem}.control.sock")))


def default_runtime_dir() -> Path:
    """Where `plugin serve` puts its sockets by default: $XDG_RUNTIME_DIR or /tmp, per user."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"kms-sandbox-{os.getuid()}"


def default_kms_endpoint() -> Endpoint:
    return Endpoint(str(default_runtime_dir() / "kms.sock"))


def default_control_url() -> str:
    """$KMS_SANDBOX_CONTROL, else the control socket of the default KMS socket."""
    return os.environ.get("KMS_SANDBOX_CONTROL") or default_control_endpoint(default_kms_endpoint()).url
