"""`SharedKeyring`: one plugin instance's in-memory keyring, kept in step with the shared file.

Replicas of the plugin in front of one "remote KMS" share one keyring file
(`sandbox.kms.keystore.KeyringFile`). Before each KMS call and each state snapshot, `sync()`
stats the file and reloads it when another instance rotated or retired a KEK, so a rotation
through any replica is seen by all of them at their next call.

For high-availability lessons an instance can be told to *lag*: `paused = True` keeps serving
the in-memory keyring and ignores the file, as a replica whose cache is stale. It keeps
reporting the old key_id in Status and cannot unwrap data wrapped under a newer KEK. While
lagging it refuses to rotate or retire through itself: changing the shared file from a stale
copy is exactly the lost-key bug the file lock exists to prevent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sandbox.core.keyring import Keyring, KeyringError
from sandbox.kms.keystore import KeyringFile, KeystoreError

T = TypeVar("T")
log = logging.getLogger("sandbox.kms")

Reloaded = Callable[[Keyring, Keyring], None]
"""Called with (old, new) after the file brought a different keyring."""


class KeyringSyncPausedError(KeyringError):
    code = "FAILED_PRECONDITION"


class SharedKeyring:
    def __init__(self, ring: Keyring, store: KeyringFile | None = None) -> None:
        self.ring = ring
        self.store = store
        """None: an in-memory keyring only (tests, embedded use); changes are not persisted."""
        self.paused = False
        self.on_reload: Reloaded = lambda old, new: None

    def sync(self) -> None:
        """Reloads the keyring if the shared file changed (one stat when it did not)."""
        if self.store is None or self.paused:
            return
        try:
            fresh = self.store.load_if_changed()
        except KeystoreError as exc:
            # Keep serving the keys we have: a damaged file must not take every replica down.
            log.warning("keyring file changed but cannot be loaded", extra={"fields": {"error": str(exc)}})
            return
        if fresh is not None:
            old, self.ring = self.ring, fresh
            self.on_reload(old, fresh)

    def update(self, change: Callable[[Keyring], T]) -> T:
        """Applies `change` to the freshest keyring (on disk, under its lock) and adopts the result.

        Raises KeyringSyncPausedError while lagging, KeystoreError if the file cannot be written,
        and whatever `change` raises (then nothing is saved).
        """
        if self.paused:
            raise KeyringSyncPausedError(
                "keyring sync is paused on this instance (it lags behind the shared keyring); "
                "resume it with `plugin lag off` before rotating or retiring through it"
            )
        if self.store is None:
            return change(self.ring)
        before = self.ring

        def apply(fresh: Keyring) -> T:
            if _visible(fresh) != _visible(before):  # another replica changed it meanwhile
                self.ring = fresh
                self.on_reload(before, fresh)
            return change(fresh)

        self.ring, result = self.store.update(apply)
        return result

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.sync()  # catch up at once, not at the next call


def _visible(ring: Keyring) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    return ring.current_id, tuple(ring.keks), tuple(ring.retired)
