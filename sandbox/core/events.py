"""The one event stream every front end consumes.

Everything that happens in a sandbox run is an `Event`: a KMS call the plugin answered, a Status
probe the apiserver made, a value written to etcd, an expectation that held. The plugin, the
simulator, the real backends and the scenario runner publish; the CLI printer, JSON-lines and
JUnit writers, bug-report bundles and the terminal UI subscribe. Events say *what happened*,
never how it is drawn, and carry no secrets: key ids, sizes and hashes, never plaintext or keys.

Events are frozen dataclasses so they can be shared between subscribers without copying.
`to_dict()` gives the JSON-lines form (bytes never appear in events, so it is always JSON-safe).
New event types are added at the end of this module; `kind` is their stable wire name.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. `time` is the run's clock (virtual on the simulator), Unix seconds."""

    kind: ClassVar[str] = "event"
    time: float
    source: str = ""
    """Who emitted it: "plugin", "plugin-1", "apiserver-0", "runner", "etcd"."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


# --- the plugin ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PluginCall(Event):
    """One KMS RPC the plugin answered (or failed), as seen by the plugin."""

    kind: ClassVar[str] = "plugin.call"
    method: str
    """"Status", "Encrypt", "Decrypt" (v1: "Version" too)."""
    uid: str = ""
    key_id: str = ""
    annotation_keys: tuple[str, ...] = ()
    request_bytes: int = 0
    response_bytes: int = 0
    latency_ms: float = 0.0
    code: str = "OK"
    """gRPC status code name."""
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class PluginStateChanged(Event):
    """A control action changed the plugin: rotate, retire, health, outage, fault, latency."""

    kind: ClassVar[str] = "plugin.state"
    change: str
    detail: str = ""
    current_key_id: str = ""


# --- the apiserver (simulated or real) -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StatusProbed(Event):
    """An apiserver's Status probe of one KMS provider and what it concluded."""

    kind: ClassVar[str] = "apiserver.probe"
    provider: str
    ok: bool
    healthz: str = ""
    version: str = ""
    key_id: str = ""
    error: str = ""
    cached: bool = False
    """True when the probe answered from its 20 s / 3 s result cache without calling Status."""


@dataclass(frozen=True, kw_only=True)
class WriteStateRotated(Event):
    """The apiserver made a new DEK/seed for a provider (one Encrypt), or failed to."""

    kind: ClassVar[str] = "apiserver.write_state"
    provider: str
    ok: bool
    key_id: str = ""
    dek_source_type: str = ""
    """"AES_GCM_KEY" or "HKDF_SHA256_XNONCE_AES_GCM_SEED"."""
    expires_at: float = 0.0
    uid: str = ""
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class WriteStateExtended(Event):
    """A good probe with an unchanged key_id pushed the write expiry out (no Encrypt)."""

    kind: ClassVar[str] = "apiserver.write_state_extended"
    provider: str
    key_id: str
    expires_at: float


@dataclass(frozen=True, kw_only=True)
class StorageWritten(Event):
    """A value went to etcd. Envelope fields are empty for identity/plaintext writes."""

    kind: ClassVar[str] = "storage.write"
    key: str
    """The etcd key, e.g. /registry/secrets/default/db-password."""
    resource_version: int = 0
    prefix: str = ""
    provider: str = ""
    key_id: str = ""
    dek_source_type: str = ""
    size: int = 0
    ok: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class StorageRead(Event):
    """A value was read from etcd and transformed (decrypted) for a client."""

    kind: ClassVar[str] = "storage.read"
    key: str
    prefix: str = ""
    provider: str = ""
    key_id: str = ""
    stale: bool = False
    dek_cache_hit: bool | None = None
    """None when no DEK cache was involved (identity, aescbc, ...)."""
    ok: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class StorageDeleted(Event):
    kind: ClassVar[str] = "storage.delete"
    key: str


@dataclass(frozen=True, kw_only=True)
class DekCacheChanged(Event):
    """The apiserver's decrypted-DEK cache for a provider grew, was looked up, or was cleared."""

    kind: ClassVar[str] = "apiserver.dek_cache"
    provider: str
    action: str
    """"hit", "miss", "insert", "clear"."""
    size: int = 0


@dataclass(frozen=True, kw_only=True)
class HealthChanged(Event):
    """A health check's result changed (e.g. /healthz/kms-providers went from ok to failing)."""

    kind: ClassVar[str] = "apiserver.health"
    check: str
    ok: bool
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ApiserverLifecycle(Event):
    """Started, stopped, restarted, config reloaded (or reload failed)."""

    kind: ClassVar[str] = "apiserver.lifecycle"
    action: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ClockAdvanced(Event):
    """Virtual time jumped forward (simulator) or real time was waited out (real backends)."""

    kind: ClassVar[str] = "clock.advanced"
    seconds: float
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    """A line of a process log (plugin, apiserver, etcd), for transcripts and the UI."""

    kind: ClassVar[str] = "log"
    level: str = "info"
    text: str = ""


# --- the scenario runner ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScenarioStarted(Event):
    kind: ClassVar[str] = "scenario.start"
    scenario: str
    title: str = ""
    backend: str = ""
    steps: int = 0


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    kind: ClassVar[str] = "step.start"
    scenario: str
    index: int
    name: str
    narrative: str = ""


@dataclass(frozen=True, kw_only=True)
class OperationFinished(Event):
    kind: ClassVar[str] = "operation"
    scenario: str
    step: int
    operation: str
    ok: bool
    summary: str = ""
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class ExpectationChecked(Event):
    kind: ClassVar[str] = "expectation"
    scenario: str
    step: int
    description: str
    ok: bool
    expected: str = ""
    observed: str = ""


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    kind: ClassVar[str] = "step.finish"
    scenario: str
    index: int
    name: str
    ok: bool
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ScenarioFinished(Event):
    kind: ClassVar[str] = "scenario.finish"
    scenario: str
    ok: bool
    duration_s: float = 0.0
    virtual_s: float = 0.0
    failures: tuple[str, ...] = field(default_factory=tuple)


# --- the bus ---------------------------------------------------------------------------------

Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out to subscribers, with a bounded history for late subscribers.

    Publishing never blocks on a slow consumer: subscribers must be cheap (append to a list, put
    on a queue, post a UI message). A subscriber that raises is dropped rather than breaking
    the publisher, since a broken panel must never break a scenario. Thread-safe because the
    plugin's gRPC handlers and the simulator may publish from different threads.
    """

    def __init__(self, history: int = 10_000) -> None:
        self._subscribers: list[Subscriber] = []
        self._history: deque[Event] = deque(maxlen=history)
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        with self._lock:
            self._history.append(event)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                self.unsubscribe(subscriber)

    def subscribe(self, subscriber: Subscriber, replay: bool = False) -> Callable[[], None]:
        """Adds a subscriber; with `replay`, first hands it the retained history. Returns an unsubscribe."""
        with self._lock:
            past = list(self._history) if replay else []
            self._subscribers.append(subscriber)
        for event in past:
            subscriber(event)
        return lambda: self.unsubscribe(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def history(self, kinds: Iterable[str] | None = None) -> list[Event]:
        with self._lock:
            events = list(self._history)
        if kinds is None:
            return events
        wanted = set(kinds)
        return [e for e in events if e.kind in wanted]


@dataclass(frozen=True, kw_only=True)
class WatchCacheListed(Event):
    """An apiserver's watch cache LISTed one resource after start, decoding every object, or failed.

    This initial LIST is where a restarted apiserver pays its Decrypt calls (one per distinct seed
    under KMS v2, one per object under KMS v1). A failed LIST is retried with backoff.
    """

    kind: ClassVar[str] = "apiserver.watch_cache_list"
    resource: str
    ok: bool
    objects: int = 0
    """Objects decoded (on failure: decoded before the one that failed)."""
    attempt: int = 1
    error: str = ""
    retry_in: float = 0.0
    """Seconds until the next attempt (0 after a success)."""


@dataclass(frozen=True, kw_only=True)
class WaitProgress(Event):
    """A real backend is waiting out real time (`advance` on local/kind): how far along it is.

    Published every few seconds so a scenario whose real duration is minutes shows progress.
    """

    kind: ClassVar[str] = "clock.wait"
    waited: float
    total: float
    reason: str = ""
