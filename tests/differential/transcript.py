"""Observation transcripts: what a scenario run looked like from outside, comparable across backends.

A transcript is a list of lines, step by step, of everything the catalogue observes:

* every operation's outcome and error text;
* every expectation's verdict (and, for health checks, the status and body the apiserver gave);
* Encrypt and Decrypt calls per plugin and result code, from the plugin's own counters;
* per object the scenario touched: etcd prefix, provider, key_id, DEK source type, staleness.

Run-specific noise is normalised away so that two correct runs produce identical lines: key ids
become k0, k1, ... in order of first appearance (and their hashes follow), state-directory paths,
uids, timestamps and resource versions become placeholders, and how long a wait took is dropped
(real and virtual time differ by design), and so are summary clauses only the simulator can
observe (`SIM_ONLY`); their effects (KMS calls) stay compared. Nothing else is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox.backends.base import Backend
from sandbox.core.hashing import key_id_hash
from sandbox.scenarios import model as m
from sandbox.scenarios.envelopes import first_provider_prefix, view_value
from sandbox.scenarios.expectations import is_stale
from sandbox.scenarios.runner import ScenarioRun, StepResult

KEY_ID = re.compile(r"kek-\d+-[0-9a-f]{8}")
KEY_HASH = re.compile(r"sha256:[0-9a-f]{64}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
STATE_DIR = re.compile(r"/tmp/kms-(?:sim|local)-[A-Za-z0-9_]+")
TIMING = re.compile(r" \[[0-9.]+ s(?: simulated, [0-9.]+ s real)?\]| \[[0-9.]+ min\]")
WAITED = re.compile(r"^waited [0-9.]+ (?:s|min) until")
SIM_ONLY = re.compile(
    r"; the watch caches' initial LIST decoded \d+ objects|; \d+ initial LIST failed \(.*\)$"
)
"""Summary clauses only the simulator can say (it sees its watch caches' initial LIST; a real
apiserver does not report it). The Decrypts that LIST costs are still compared, as plugin calls."""
EXPECT_TEXT_KEPT = (m.HealthExpect, m.EnvelopeExpect, m.OutcomeExpect, m.PluginCallsExpect)
"""Expectations whose observed text is compared; metric values (timestamps, latencies) are not."""

CATEGORIES = ("operations", "expectations", "calls", "objects")


@dataclass
class Normaliser:
    """Maps run-specific tokens to stable names; one per transcript (order of first sight)."""

    keys: dict[str, str] = field(default_factory=dict)

    def key(self, key_id: str) -> str:
        if not key_id:
            return ""
        if key_id not in self.keys:
            self.keys[key_id] = f"k{len(self.keys)}"
        return self.keys[key_id]

    def text(self, text: str) -> str:
        text = KEY_ID.sub(lambda match: self.key(match.group(0)), text)
        hashes = {key_id_hash(k): f"hash({v})" for k, v in self.keys.items()}
        text = KEY_HASH.sub(lambda match: hashes.get(match.group(0), "sha256:<unknown>"), text)
        text = STATE_DIR.sub("<state>", text)
        text = UUID.sub("<uid>", text)
        text = TIMESTAMP.sub("<time>", text)
        text = TIMING.sub("", text)
        return WAITED.sub("waited until", text)


@dataclass
class Transcript:
    backend: str
    lines: list[tuple[int, str, str]] = field(default_factory=list)
    """(step number from 1, category, text)."""
    ok: bool = True

    def add(self, step: int, category: str, text: str) -> None:
        self.lines.append((step, category, text))

    def render(self, ignore: Iterable[str] = (), steps: Iterable[int] = ()) -> list[str]:
        """Lines as text, without the categories a scenario names as timing-bound (in `steps`)."""
        ignored, where = set(ignore), set(steps)
        return [
            f"step {step} {category}: {text}"
            for step, category, text in self.lines
            if not (category in ignored and (not where or step in where))
        ]


async def _plugin_calls(run: ScenarioRun, step: int, tr: Transcript) -> None:
    ctx = run.context
    for i in range(run.backend.plugin_count):
        after = await ctx.counters(i)
        before = ctx.baseline.get(i, {})
        for (method, code), count in sorted(after.items()):
            if method not in ("Encrypt", "Decrypt"):
                continue
            delta = count - before.get((method, code), 0)
            if delta:
                tr.add(step, "calls", f"plugin {i} {method} {code}: {delta}")


async def _objects(run: ScenarioRun, step: int, tr: Transcript, norm: Normaliser) -> None:
    ctx, backend = run.context, run.backend
    current = await ctx.resolve_key("current", 0)
    for key in ctx.touched:
        kind = key.split("/")[-3] if key.count("/") >= 3 else "secrets"
        view = view_value(await backend.etcd_get(key))
        if not view.present:
            tr.add(step, "objects", f"{key}: absent")
            continue
        stale = is_stale(view, current, first_provider_prefix(ctx.encryption_config, kind))
        described = [
            f"prefix={view.prefix or '(plaintext)'}",
            f"provider={view.provider or view.provider_type}",
        ]
        if view.key_id:
            described.append(f"key_id={norm.key(view.key_id)}")
        if view.dek_source_type:
            described.append(f"dek={view.dek_source_type}")
        described.append(f"stale={stale}")
        tr.add(step, "objects", f"{key}: " + " ".join(described))


def _step_lines(step: m.Step, result: StepResult, number: int, tr: Transcript, norm: Normaliser) -> None:
    for summary in result.operations:
        tr.add(number, "operations", norm.text(SIM_ONLY.sub("", summary)))
    for failure in result.failures:
        if failure.startswith("operation "):
            tr.add(number, "operations", "FAILED " + norm.text(failure))
    for exp, check in zip(step.expect, result.checks, strict=False):
        verdict = "holds" if check.ok else "FAILS"
        line = f"{verdict}: {norm.text(check.description)}"
        if isinstance(exp, EXPECT_TEXT_KEPT):
            line += f" -> {norm.text(check.observed)}"
        tr.add(number, "expectations", line)


async def record(backend: Backend, scenario: m.Scenario) -> Transcript:
    """Runs `scenario` on the started `backend` step by step, observing after each step."""
    tr, norm = Transcript(backend.name), Normaliser()
    run = ScenarioRun(backend, scenario)
    try:
        # Key ids in plugin order first, so k0 is every plugin's initial key on both backends.
        await run.context.remember_initial_keys()
        for history in run.context.key_history.values():
            for key_id in history:
                norm.key(key_id)
        for index, step in enumerate(run.steps):
            result = await run.run_step(index)
            _step_lines(step, result, index + 1, tr, norm)
            await _plugin_calls(run, index + 1, tr)
            await _objects(run, index + 1, tr, norm)
            if not result.ok:
                tr.ok = False
                break
    finally:
        await run.close()
    run.finish()
    return tr
