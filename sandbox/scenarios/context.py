"""The state a scenario run carries between operations and expectations.

`RunContext` holds the backend, one control client per plugin, each plugin's key history (to
resolve "current", "previous" and "initial"), the encryption configuration in force (for
provider-level staleness), the outcomes of the current step's operations, and the data values the
scenario wrote: the report writer scrubs those from everything it saves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.backends.base import Backend, ListResult, MigrationResult, OpResult
from sandbox.core.events import StatusProbed
from sandbox.core.hashing import key_id_hash
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.model import PluginStateView
from sandbox.scenarios.model import AllOr

Counters = dict[tuple[str, str], int]
KEY_REF = re.compile(r"\$\{(key|keyHash):([A-Za-z0-9_.-]+)(?::(\d+))?\}")


@dataclass
class OpRecord:
    """What one operation did: per-request results for object operations, or one result."""

    key: str
    id: str
    summary: str
    results: list[OpResult] = field(default_factory=list)
    listed: ListResult | None = None
    migrated: MigrationResult | None = None
    error: str = ""
    """Set when the operation itself failed (plugin could not start, wait timed out, ...)."""

    @property
    def failed_requests(self) -> list[OpResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        listed_ok = self.listed is None or self.listed.ok
        migrated_ok = self.migrated is None or not self.migrated.failed
        return not self.error and not self.failed_requests and listed_ok and migrated_ok

    def first_error(self) -> str:
        if self.error:
            return self.error
        for r in self.failed_requests:
            return f"HTTP {r.code}: {r.message}"
        if self.listed is not None and not self.listed.ok:
            return f"HTTP {self.listed.code}: {self.listed.message}"
        if self.migrated is not None and self.migrated.failed:
            return self.migrated.failed[0]
        return ""


class RunContext:
    def __init__(self, backend: Backend, scenario_name: str, encryption_config: str) -> None:
        self.backend = backend
        self.scenario_name = scenario_name
        self.encryption_config = encryption_config
        self._clients: dict[int, PluginControlClient] = {}
        self.key_history: dict[int, list[str]] = {}
        self.step_index = -1
        self.records: list[OpRecord] = []
        self.baseline: dict[int, Counters] = {}
        self.step_started_at = 0.0
        self.secret_values: set[str] = set()
        """Every data value the scenario sent: never written to reports."""
        self.touched: dict[str, None] = {}
        """etcd keys of objects the scenario created, read or checked, in first-seen order."""

    # --- plugins -------------------------------------------------------------------------------
    def plugin_indices(self, which: int | AllOr) -> list[int]:
        return list(range(self.backend.plugin_count)) if which == "all" else [int(which)]

    def clients(self, which: int | AllOr) -> list[PluginControlClient]:
        """The control clients of plugin `which` (an index, or "all")."""
        return [self.client(i) for i in self.plugin_indices(which)]

    def client(self, index: int) -> PluginControlClient:
        if index not in self._clients:
            endpoint = self.backend.plugin_control_endpoint(index)
            self._clients[index] = PluginControlClient(endpoint, source=f"plugin-{index}")
        return self._clients[index]

    async def state(self, index: int) -> PluginStateView:
        return await self.client(index).get_state()

    async def counters(self, index: int) -> Counters:
        """The plugin's call counters; empty when it is not running (it restarts from zero)."""
        try:
            return dict((await self.state(index)).counters)
        except Exception:
            return {}

    async def remember_initial_keys(self) -> None:
        for i in range(self.backend.plugin_count):
            if i not in self.key_history:
                try:
                    self.key_history[i] = [(await self.state(i)).current_key_id]
                except Exception:
                    self.key_history[i] = []

    def record_rotation(self, index: int, key_id: str) -> None:
        self.key_history.setdefault(index, []).append(key_id)

    async def resolve_key(self, ref: str, plugin: int = 0) -> str:
        """ "current", "previous", "initial" from the plugin's key history; anything else as is."""
        if ref not in ("current", "previous", "initial"):
            return ref
        history = self.key_history.get(plugin) or []
        if ref == "current":
            try:
                return (await self.state(plugin)).current_key_id
            except Exception:
                return history[-1] if history else ""
        if ref == "initial":
            return history[0] if history else ""
        return history[-2] if len(history) >= 2 else ""

    async def expand(self, text: str) -> str:
        """Replaces ${key:current} and ${keyHash:previous:1} (plugin 1) references."""
        for match in list(KEY_REF.finditer(text)):
            kind, ref, plugin = match.group(1), match.group(2), int(match.group(3) or 0)
            key_id = await self.resolve_key(ref, plugin)
            text = text.replace(match.group(0), key_id_hash(key_id) if kind == "keyHash" else key_id)
        return text

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    # --- steps ---------------------------------------------------------------------------------
    async def begin_step(self, index: int) -> None:
        self.step_index = index
        self.records = []
        self.step_started_at = self.backend.now()
        self.baseline = {i: await self.counters(i) for i in range(self.backend.plugin_count)}

    def record(self, rec: OpRecord) -> None:
        self.records.append(rec)

    def find_record(self, op_id: str) -> OpRecord | None:
        if not op_id:
            return self.records[-1] if self.records else None
        return next((r for r in self.records if r.id == op_id), None)

    def probes_this_step(self) -> list[StatusProbed]:
        """Status calls made this step. Answers from the 20 s / 3 s result cache are left out:
        they carry no healthz or key_id, so a health request during a step must not hide the
        probe that really asked the plugin."""
        return [
            e
            for e in self.backend.events.history(["apiserver.probe"])
            if isinstance(e, StatusProbed) and not e.cached and e.time >= self.step_started_at
        ]

    def touch(self, key: str) -> None:
        self.touched.setdefault(key, None)

    def remember_secrets(self, data: Mapping[str, Any]) -> None:
        self.secret_values.update(str(v) for v in data.values() if str(v))
