"""An in-memory etcd: the simulated apiservers' shared storage.

It keeps what the lessons need from etcd and nothing more: keys laid out as the apiserver lays
them out (`<prefix>/secrets/<namespace>/<name>`), one global revision counter that every change
bumps, and per key the create and mod revisions (an object's resourceVersion is its mod
revision). Several simulated apiservers share one `MemoryStore`, as HA apiservers share etcd;
watchers (their watch caches) are told about every change.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_PREFIX = "/registry"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One stored key, as etcd reports it."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    """How many times the key was written since it was created."""


Watcher = Callable[[str, KeyValue | None], None]
"""Called with (key, new value) after a put, or (key, None) after a delete."""
AsyncWatcher = Callable[[KeyValue], Awaitable[None]]
"""A watch cache: decodes each new value; awaited by `deliver()` right after the write."""


def object_key(prefix: str, resource: str, namespace: str, name: str) -> str:
    """`/registry/secrets/default/db`: the etcd key the apiserver uses (and the AES-GCM AAD)."""
    return f"{normalize_prefix(prefix)}/{resource}/{namespace}/{name}"


def normalize_prefix(prefix: str) -> str:
    """The apiserver always stores under "/" + prefix without a trailing slash."""
    stripped = prefix.strip("/")
    return "/" + stripped if stripped else ""


class MemoryStore:
    """Key → value with etcd's revision semantics. Not thread-safe; used from one event loop."""

    def __init__(self) -> None:
        self._data: dict[str, KeyValue] = {}
        self._sorted_keys: list[str] = []
        self._sorted_valid = True
        """False after a create or delete: the key list is re-sorted on the next range, once.
        (Inserting each new key in place costs a list shift per create, quadratic at 100k keys.)"""
        self._revision = 1  # etcd starts at revision 1 with an empty keyspace
        self._watchers: list[Watcher] = []
        self._async_watchers: list[AsyncWatcher] = []

    @property
    def revision(self) -> int:
        return self._revision

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> KeyValue | None:
        return self._data.get(key)

    def put(self, key: str, value: bytes) -> KeyValue:
        self._revision += 1
        old = self._data.get(key)
        if old is None:
            kv = KeyValue(key, bytes(value), self._revision, self._revision, 1)
            self._sorted_valid = False
        else:
            kv = KeyValue(key, bytes(value), old.create_revision, self._revision, old.version + 1)
        self._data[key] = kv
        self._notify(key, kv)
        return kv

    def delete(self, key: str) -> bool:
        if key not in self._data:
            return False
        self._revision += 1
        del self._data[key]
        self._sorted_valid = False
        self._notify(key, None)
        return True

    def keys(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, in byte order (as an etcd range with a prefix end)."""
        if not self._sorted_valid:
            self._sorted_keys = sorted(self._data)
            self._sorted_valid = True
        keys = self._sorted_keys
        if not prefix:
            return list(keys)
        start = bisect.bisect_left(keys, prefix)
        last = prefix[-1]
        if last == "\U0010ffff":  # no successor string: walk (never happens with etcd-style keys)
            end = start
            while end < len(keys) and keys[end].startswith(prefix):
                end += 1
        else:
            # Keys with the prefix are exactly those in [prefix, prefix with its last char + 1).
            end = bisect.bisect_left(keys, prefix[:-1] + chr(ord(last) + 1), start)
        return keys[start:end]

    def range(self, prefix: str) -> list[KeyValue]:
        return [self._data[k] for k in self.keys(prefix)]

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def watch_async(self, watcher: AsyncWatcher) -> Callable[[], None]:
        self._async_watchers.append(watcher)
        return lambda: self._async_watchers.remove(watcher) if watcher in self._async_watchers else None

    async def deliver(self, kv: KeyValue) -> None:
        """Hands a new value to every watch cache (each apiserver's), in order."""
        for watcher in list(self._async_watchers):
            await watcher(kv)

    def _notify(self, key: str, kv: KeyValue | None) -> None:
        for watcher in list(self._watchers):
            watcher(key, kv)
