"""What a local sandbox leaves on disk for people working beside it: a kubeconfig and a run record.

`<state>/kubeconfig` lets kubectl talk to apiserver 0 as cluster-admin (the admin client
certificate). `<state>/local-sandbox.json` records the addresses, pids and release of the run,
and `$XDG_CACHE_HOME/kms-sandbox/local/current` points at the newest run's state directory so
`kms-sandbox env` can print `export KUBECONFIG=...` without being told where to look.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandbox.backends.local.binaries import cache_root
from sandbox.backends.local.pki import PkiPaths

RECORD_NAME = "local-sandbox.json"
KUBECONFIG_NAME = "kubeconfig"


def kubeconfig_text(server: str, pki: PkiPaths, name: str = "kms-sandbox-local") -> str:
    """A kubeconfig (JSON is valid YAML) that refers to the PKI files instead of embedding keys."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": f"{name}-admin",
                "user": {"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }
    return json.dumps(doc, indent=2) + "\n"


def _write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


@dataclass
class RunRecord:
    """The facts `kms-sandbox env` and people debugging need about one local run."""

    state_dir: str
    kube_version: str
    kubeconfig: str
    etcd_url: str = ""
    apiservers: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    """Process name -> pid while running; emptied on a clean stop."""
    kept: bool = False
    running: bool = True

    def write(self) -> None:
        _write_atomically(Path(self.state_dir) / RECORD_NAME, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, state_dir: Path) -> RunRecord:
        """Raises OSError or ValueError when the directory holds no readable record."""
        data = json.loads((state_dir / RECORD_NAME).read_text())
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def alive(self) -> bool:
        """Whether the recorded apiserver 0 process still exists."""
        pid = self.pids.get("apiserver-0")
        if not self.running or not pid:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def pointer_path() -> Path:
    return cache_root() / "local" / "current"


def remember_current(state_dir: Path) -> None:
    """Points `kms-sandbox env` at this run (best effort: a read-only cache only loses that)."""
    with contextlib.suppress(OSError):
        pointer = pointer_path()
        pointer.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(pointer, str(state_dir) + "\n", 0o644)


def current_state_dir() -> Path | None:
    try:
        text = pointer_path().read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None
