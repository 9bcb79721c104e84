"""The keyring on disk: `<state-dir>/keyring.json`, mode 0600, replaced atomically.

A crash mid-write must never leave a half-written keyring (that would lose every KEK, hence
every Secret). So each save writes a temp file in the same directory, fsyncs it, renames it
over the old file (atomic on POSIX) and fsyncs the directory so the rename itself is durable.

Several plugin instances may share one state dir: they are replicas in front of one "remote
KMS" (the simulator runs one per apiserver). `KeyringFile` makes that safe and visible:

- readers notice a change with one `stat` per call (inode, mtime, ctime and size; every save is
  a new inode through the rename, so a change shows even within one mtime tick) and reload;
- writers take an exclusive `flock` on `keyring.lock`, re-read the file under the lock, apply
  their change to that fresh copy and save it, so two instances rotating at once both keep
  their new KEK (a read-modify-write without the lock would lose one).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sandbox.core.keyring import Keyring, KeyringError

KEYRING_FILE = "keyring.json"
LOCK_FILE = "keyring.lock"
T = TypeVar("T")
Stamp = tuple[int, int, int, int]


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
    return KeyringFile(state_dir).load_or_create()


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class KeyringFile:
    """One state dir's keyring file, shared safely by every plugin instance that uses it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / KEYRING_FILE
        self._stamp: Stamp | None = None
        """What the file looked like when we last read or wrote it."""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Blocking on purpose: writers hold it for one small write and fsync, and only control
        # calls (rotate, retire) and first start write.
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> Keyring:
        """Reads the file; the stamp comes from the same open file, so it matches what we read."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                raw = f.read()
        except OSError as exc:
            raise KeystoreError(f"cannot read keyring {self.path}: {exc.strerror or exc}") from None
        if st.st_mode & 0o077:
            # Someone loosened it; tighten rather than refuse, the keys are ours. (Not ours to
            # chmod, e.g. another user's file: keep reading rather than fail every call.)
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise KeystoreError(f"cannot read keyring {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise KeystoreError(f"cannot read keyring {self.path}: expected a JSON object")
        try:
            ring = Keyring.from_dict(data)
        except KeyringError as exc:
            raise KeystoreError(f"cannot load keyring {self.path}: {exc}") from None
        self._stamp = _stamp(st)
        return ring

    def _write(self, ring: Keyring) -> None:
        save_keyring(self.state_dir, ring)
        self._stamp = _stamp(os.stat(self.path))

    def load_or_create(self) -> Keyring:
        """Loads the keyring, or creates one with a first KEK (under the lock: two instances
        starting together must not each create a different first KEK)."""
        ensure_private_dir(self.state_dir)
        if self.path.exists():
            return self._read()
        with self._locked():
            if self.path.exists():
                return self._read()
            ring = Keyring.new(time.time())
            self._write(ring)
            return ring

    def changed(self) -> bool:
        """True when the file is no longer what we last read or wrote (one stat call)."""
        try:
            return _stamp(os.stat(self.path)) != self._stamp
        except OSError:
            return False  # gone or unreadable: keep serving what we have

    def load_if_changed(self) -> Keyring | None:
        """The file's keyring if another instance changed it since we last looked, else None.

        A damaged file raises KeystoreError once; its stamp is remembered so the caller is not
        told again on every call until the file changes once more.
        """
        if not self.changed():
            return None
        try:
            return self._read()
        except KeystoreError:
            with contextlib.suppress(OSError):
                self._stamp = _stamp(os.stat(self.path))
            raise

    def update(self, change: Callable[[Keyring], T]) -> tuple[Keyring, T]:
        """Applies `change` to the freshest keyring on disk and saves it, all under the lock.

        Returns the saved keyring and what `change` returned. If `change` raises, nothing is saved.
        """
        with self._locked():
            ring = self._read()
            result = change(ring)
            self._write(ring)
            return ring, result
