"""The keyring on disk: `<state-dir>/keyring.json`, mode 0600, replaced atomically.

A crash mid-write must never leave a half-written keyring (that would lose every KEK, hence
every Secret). So each save writes a temp file in the same directory, fsyncs it, renames it
over the old file (atomic on POSIX) and fsyncs the directory so the rename itself is durable.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sandbox.core.keyring import Keyring, KeyringError

KEYRING_FILE = "keyring.json"


class KeystoreError(Exception):
    """The keyring file cannot be read or written; the message says which file and why."""


def ensure_private_dir(path: Path) -> None:
    """Creates `path` (and parents) with mode 0700: it holds keys or sockets.

    An existing directory is left alone: `--listen unix:///tmp/kms.sock` must not chmod /tmp.
    """
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def save_keyring(state_dir: Path, ring: Keyring) -> None:
    target = state_dir / KEYRING_FILE
    tmp = state_dir / f".{KEYRING_FILE}.{os.getpid()}.tmp"
    data = json.dumps(ring.to_dict(), indent=1).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    dir_fd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_or_create_keyring(state_dir: Path) -> Keyring:
    """Loads the keyring, or creates one with a first KEK when the directory has none."""
    ensure_private_dir(state_dir)
    path = state_dir / KEYRING_FILE
    if not path.exists():
        ring = Keyring.new(time.time())
        save_keyring(state_dir, ring)
        return ring
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        # Someone loosened it; tighten rather than refuse, the keys are ours.
        os.chmod(path, 0o600)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keyring {path}: {exc}") from None
    if not isinstance(data, dict):
        raise KeystoreError(f"cannot read keyring {path}: expected a JSON object")
    try:
        return Keyring.from_dict(data)
    except KeyringError as exc:
        raise KeystoreError(f"cannot load keyring {path}: {exc}") from None
