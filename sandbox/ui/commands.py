"""The command palette (ctrl+p): every free-play action by name, including those without a key."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from sandbox.ui.app import SandboxApp


def palette_entries(app: SandboxApp) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, help, callback) for each command."""
    entries: list[tuple[str, str, Callable[[], object]]] = [
        (
            "Scenario: start the highlighted one",
            "Swap in its backend and show step 1",
            app.action_start_scenario,
        ),
        ("Scenario: run the next step", "Run one step and check its expectations", app.action_step),
        ("Scenario: run all remaining steps", "Run to the end", app.action_run_all),
        ("Create 1 secret", "Write one secret through the apiserver", partial(app.action_create, 1)),
        ("Create 100 secrets", "", partial(app.action_create, 100)),
        ("Create 1,000 secrets", "", partial(app.action_create, 1000)),
        (
            "Create 10,000 secrets",
            "The UI stays responsive while they are written",
            partial(app.action_create, 10_000),
        ),
        ("Read all secrets", "Every read decrypts; cache misses call Decrypt", app.action_read_all),
        ("Rotate the KEK", "The plugin reports a new key_id at once", app.action_rotate),
        ("Retire the previous KEK", "Data under it can no longer be decrypted", app.action_retire),
        (
            "Plugin outage on/off (UNAVAILABLE)",
            "Calls fail at once",
            partial(app.action_outage, "unavailable"),
        ),
        (
            "Plugin hang on/off",
            "Calls never answer: they run into the 3 s timeout",
            partial(app.action_outage, "hang"),
        ),
        ("Restore the plugin", "No outage, faults, health lies or latency", app.action_restore),
        ("Migrate storage", "Rewrite every secret under the current key", app.action_migrate),
        ("Restart all apiservers", "Caches and write state are lost", app.action_restart_apiserver),
        ("Clock: jump 1 minute", "", partial(app.action_advance, 60)),
        ("Clock: jump 10 minutes", "", partial(app.action_advance, 600)),
        ("Clock: jump 1 hour", "", partial(app.action_advance, 3600)),
        ("Clock: pause", "", partial(app.action_set_speed, 0.0)),
        ("Clock: real time (×1)", "", partial(app.action_set_speed, 1.0)),
        ("Clock: ×10", "", partial(app.action_set_speed, 10.0)),
        ("Clock: ×60", "", partial(app.action_set_speed, 60.0)),
        ("Process logs: show/hide", "What the backend's processes said", app.action_toggle_logs),
        ("Refresh all panels", "Re-read etcd, health, metrics and the keyring", app.action_refresh),
        ("Help: list the keys", "", app.action_help),
    ]
    for ms in (0, 50, 500, 2500):
        entries.append((f"Remote KMS latency {ms} ms", "", partial(app.action_latency, float(ms))))
    backend = app.session.backend
    if backend is not None and backend.apiserver_count > 1:
        for i in range(backend.apiserver_count):
            entries.append((f"Restart apiserver-{i}", "", partial(app.action_restart_apiserver, i)))
    return entries


class SandboxCommands(Provider):
    """Offers `palette_entries` to the palette, fuzzy-matched on their names."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        from sandbox.ui.app import SandboxApp

        return palette_entries(cast(SandboxApp, self.app))

    async def discover(self) -> Hits:
        for name, help_text, callback in self._entries():
            yield DiscoveryHit(name, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text or None)
