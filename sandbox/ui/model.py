"""What the panels show, folded from the event stream: the UI's view state and nothing else.

The dashboard never asks a widget what happened; it folds batches of events into this model
and tells the panels that changed to redraw from it. Keeping the view state outside the widgets
is what lets the layout switch between tabs (80x24) and a grid (200x60) by recomposing without
losing the call table or the probe timeline. No Textual here, so it is tested as plain Python.

Nothing in this module decides a KMS outcome: staleness, key ids and health are read from the
events and from the inspector's reports, never recomputed.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sandbox.core import events as ev
from sandbox.kms.model import PluginStateView
from sandbox.ui.process_log import ProcessLog

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport
    from sandbox.scenarios.model import Scenario

T = TypeVar("T")
CALLS_KEPT = 400
PROBES_KEPT = 200
LOG_KEPT = 300
SPARK_BUCKETS = 60
"""The sparkline shows calls per second of run time over the last minute."""

SECRETS = "/secrets/"
"""The part of an etcd key that marks a Secret: the object list shows those."""
PANELS = ("scenarios", "narrative", "status", "envelope", "calls", "keyring", "health", "logs")


@dataclass
class WriteKey:
    """One apiserver's current write DEK/seed for one provider, as the events describe it."""

    source: str
    provider: str
    key_id: str
    dek_source_type: str = ""
    expires_at: float = 0.0
    ok: bool = True
    error: str = ""


@dataclass
class StoredObject:
    """One etcd value as the inspector described it (or as the write event announced it)."""

    key: str
    key_id: str = ""
    provider: str = ""
    prefix: str = ""
    dek_source_type: str = ""
    size: int = 0


@dataclass
class Expectation:
    step: int
    description: str
    ok: bool
    expected: str = ""
    observed: str = ""


@dataclass
class ScenarioProgress:
    """The scripted run on screen: which step, its narrative, and how the checks went."""

    name: str = ""
    title: str = ""
    steps: int = 0
    step_index: int = -1
    step_name: str = ""
    narrative: str = ""
    finished_steps: dict[int, bool] = field(default_factory=dict)
    expectations: list[Expectation] = field(default_factory=list)
    operations: list[ev.OperationFinished] = field(default_factory=list)
    done: bool | None = None
    """None while running (or idle); True/False once ScenarioFinished arrived."""
    failures: tuple[str, ...] = ()


_HASH = re.compile(r"sha256:([0-9a-f]{10})[0-9a-f]{54}")


def shorten_hashes(text: str) -> str:
    """sha256 label values are 71 characters; ten hex digits identify them on screen."""
    return _HASH.sub(r"sha256:\1…", text)


def envelope_metric_lines(exposition: str) -> list[str]:
    """The apiserver_envelope_* samples of a Prometheus text exposition (comments dropped)."""
    return [
        shorten_hashes(line)
        for line in exposition.splitlines()
        if line.startswith("apiserver_envelope_") and "_bucket{" not in line
    ]


class DashboardModel:
    """View state for every panel; `apply` folds events in and says which panels changed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.backend_name = ""
        self.backend_state = "starting"
        """"starting", "running", "stopped" or "failed"."""
        self.backend_error = ""
        self.clock_speed = 1.0
        """Virtual seconds per real second the UI advances the simulator clock by (0 = paused)."""
        self.activity = ""
        """What the last free-play action is doing or did, for the top bar."""
        self.calls: deque[ev.PluginCall] = deque(maxlen=CALLS_KEPT)
        self.call_total = 0
        """Calls since the backend started (`calls` keeps the last CALLS_KEPT)."""
        self.call_counts: Counter[tuple[str, str]] = Counter()
        self.calls_per_second: Counter[int] = Counter()
        self.probes: deque[ev.StatusProbed] = deque(maxlen=PROBES_KEPT)
        self.probe_total = 0
        """Status probes that called the plugin since the backend started (`probes` keeps the last ones)."""
        self.cached_probes = 0
        self.write_keys: dict[tuple[str, str], WriteKey] = {}
        self.health_checks: dict[str, ev.HealthChanged] = {}
        self.health_results: dict[str, tuple[int, str]] = {}
        self.metric_lines: list[str] = []
        self.plugin_states: dict[int, PluginStateView] = {}
        """Per plugin index, refreshed from the control API after PluginStateChanged events."""
        self.plugin_error = ""
        self.objects: dict[str, StoredObject] = {}
        self.changed_objects: set[str] = set()
        """Keys whose row in the object list must be redrawn (the envelope panel drains it)."""
        self.written_keys: set[str] = set()
        """Keys written since the object list last re-read them from etcd."""
        self.deleted_keys: set[str] = set()
        self.selected_key = ""
        self.selected_raw: bytes | None = None
        self.selected_report: InspectReport | None = None
        self.selected_error = ""
        self.scenario = ScenarioProgress()
        self.catalogue: list[Scenario] = []
        self.catalogue_error = ""
        self.running_scenario = ""
        """Name of the scenario being run (or stepped) now; "" in free play."""
        self.next_step = 0
        """Index of the step `step` runs next in the stepped scenario."""
        self.log: deque[str] = deque(maxlen=LOG_KEPT)
        """Recent activity for the narrative panel: lifecycle, health, write keys, plugin changes."""
        self.log_total = 0
        self.process_log = ProcessLog()
        """LogLine and WaitProgress events: what the backend's processes said."""
        self.panel_errors: dict[str, str] = {}
        self.generation = 0
        """Which backend the state describes: bumped on every swap, so panels that keep their
        own rows (tables) know to drop the previous backend's."""

    def reset_backend_view(self) -> None:
        """Forgets what the previous backend showed (its calls, probes, objects, keys, logs)."""
        fresh = DashboardModel()
        keep = ("backend_name", "catalogue", "catalogue_error", "clock_speed", "generation")
        for name, value in vars(fresh).items():
            if name not in keep:
                setattr(self, name, value)
        self.generation += 1

    # --- derived views -----------------------------------------------------------------------
    def current_key_id(self) -> str:
        """The key_id new writes go under: the latest good write key, else the latest good probe."""
        good = [w for w in self.write_keys.values() if w.ok and w.key_id]
        if good:
            return max(good, key=lambda w: w.expires_at).key_id
        for probe in reversed(self.probes):
            if probe.ok and probe.key_id:
                return probe.key_id
        return ""

    def is_stale(self, obj: StoredObject) -> bool:
        current = self.current_key_id()
        return bool(obj.key_id and current and obj.key_id != current)

    def stale_count(self) -> int:
        return sum(1 for obj in self.objects.values() if self.is_stale(obj))

    def spark_series(self, buckets: int = SPARK_BUCKETS) -> list[float]:
        end = int(self.now)
        return [float(self.calls_per_second.get(t, 0)) for t in range(end - buckets + 1, end + 1)]

    def method_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (_, method), count in self.call_counts.items():
            totals[method] += count
        return totals

    # --- folding -----------------------------------------------------------------------------
    def apply(self, events: Iterable[ev.Event]) -> set[str]:
        """Folds a batch of events in; returns the names of the panels that must redraw."""
        dirty: set[str] = set()
        logged = self.log_total
        for event in events:
            self.now = max(self.now, event.time)
            dirty |= self._apply_one(event)
        if self.log_total != logged:
            dirty.add("narrative")  # its recent-activity lines
        return dirty

    def _apply_one(self, event: ev.Event) -> set[str]:
        if isinstance(event, ev.PluginCall):
            self.calls.append(event)
            self.call_total += 1
            self.call_counts[(event.source or "plugin", event.method)] += 1
            self.calls_per_second[int(event.time)] += 1
            return {"calls"}
        if isinstance(event, ev.StatusProbed):
            if event.cached:
                # A health request answered from the 20 s / 3 s cache: no Status call happened.
                self.cached_probes += 1
                return set()
            self.probes.append(event)
            self.probe_total += 1
            return {"status", "envelope"}
        if isinstance(event, ev.WriteStateRotated):
            key = (event.source, event.provider)
            if event.ok:
                self.write_keys[key] = WriteKey(
                    event.source, event.provider, event.key_id, event.dek_source_type, event.expires_at
                )
            elif key in self.write_keys:
                # A failed rotation keeps the old write key serving until it expires.
                self.write_keys[key].error = event.error
            else:
                self.write_keys[key] = WriteKey(event.source, event.provider, "", ok=False, error=event.error)
            self._log(
                event,
                f"write key {'rotated' if event.ok else 'rotation failed'} {event.key_id} {event.error}",
            )
            return {"status", "envelope"}
        if isinstance(event, ev.WriteStateExtended):
            key = (event.source, event.provider)
            current = self.write_keys.get(key)
            if current is None:
                self.write_keys[key] = WriteKey(
                    event.source, event.provider, event.key_id, expires_at=event.expires_at
                )
            else:
                current.expires_at, current.key_id, current.error = event.expires_at, event.key_id, ""
            return {"status"}
        if isinstance(event, ev.HealthChanged):
            self.health_checks[event.check] = event
            self._log(event, f"{event.check} {health_text(event)}")
            return {"status", "health"}
        if isinstance(event, ev.StorageWritten | ev.StorageDeleted) and SECRETS not in event.key:
            return set()  # the object list shows secrets (as fetch_objects lists them), not every write
        if isinstance(event, ev.StorageWritten):
            if event.ok:
                self.written_keys.add(event.key)
                self.deleted_keys.discard(event.key)
                self.objects[event.key] = StoredObject(
                    event.key, event.key_id, event.provider, event.prefix, event.dek_source_type, event.size
                )
                self.changed_objects.add(event.key)
            return {"envelope"}
        if isinstance(event, ev.StorageDeleted):
            self.objects.pop(event.key, None)
            self.deleted_keys.add(event.key)
            self.changed_objects.add(event.key)
            return {"envelope"}
        if isinstance(event, ev.PluginStateChanged):
            self._log(event, f"plugin {event.change} {event.detail}")
            return {"keyring"}
        if isinstance(event, ev.ApiserverLifecycle | ev.ClockAdvanced | ev.LogLine | ev.DekCacheChanged):
            return self._apply_misc(event)
        if isinstance(event, ev.WaitProgress):
            self.process_log.add(event)
            return {"logs"}
        return self._apply_scenario(event)

    def _apply_misc(self, event: ev.Event) -> set[str]:
        if isinstance(event, ev.ApiserverLifecycle):
            self._log(event, f"{event.action} {event.detail}")
            if event.action in ("stopped", "restarting", "failed"):
                # A stopped apiserver loses its write state; its first probe after start makes a new one.
                self.write_keys = {k: w for k, w in self.write_keys.items() if k[0] != event.source}
            return {"status", "health"}
        if isinstance(event, ev.ClockAdvanced):
            if event.reason:
                self._log(event, f"clock +{event.seconds:g}s {event.reason}")
            return {"status"}
        if isinstance(event, ev.LogLine):
            self.process_log.add(event)
            if event.level in ("warning", "error"):
                self._log(event, event.text)
                return {"narrative", "logs"}
            return {"logs"}
        return set()

    def _apply_scenario(self, event: ev.Event) -> set[str]:
        progress = self.scenario
        if isinstance(event, ev.ScenarioStarted):
            self.scenario = ScenarioProgress(name=event.scenario, title=event.title, steps=event.steps)
        elif isinstance(event, ev.StepStarted):
            progress.step_index, progress.step_name, progress.narrative = (
                event.index,
                event.name,
                event.narrative,
            )
        elif isinstance(event, ev.ExpectationChecked):
            progress.expectations.append(
                Expectation(event.step, event.description, event.ok, event.expected, event.observed)
            )
        elif isinstance(event, ev.OperationFinished):
            progress.operations.append(event)
        elif isinstance(event, ev.StepFinished):
            progress.finished_steps[event.index] = event.ok
        elif isinstance(event, ev.ScenarioFinished):
            progress.done, progress.failures = event.ok, event.failures
        else:
            return set()
        return {"narrative", "scenarios"}

    def _log(self, event: ev.Event, text: str) -> None:
        self.log.append(f"{clock_text(event.time)} {event.source or '-'}: {text.strip()}")
        self.log_total += 1


def tail_since(items: deque[T], total: int, seen: int) -> list[T]:
    """The items appended after the first `seen` of `total` (as many as the bounded deque kept)."""
    count = min(max(total - seen, 0), len(items))
    return list(items)[len(items) - count :] if count else []


def health_text(event: ev.HealthChanged) -> str:
    """ "ok" or "FAILING", then the check's own text unless it only repeats the verdict."""
    verdict = "ok" if event.ok else "FAILING"
    detail = event.text.strip()
    return f"{verdict} {detail}" if detail and detail.lower() != verdict.lower() else verdict


def clock_text(timestamp: float) -> str:
    """HH:MM:SS of run time in UTC, so screenshots do not depend on the machine's zone."""
    seconds = int(timestamp) % 86_400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
