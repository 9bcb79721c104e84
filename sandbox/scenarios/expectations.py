"""Checks one expectation against the backend, polling until it holds or its timeout passes.

Polling waits with `backend.advance(interval)`: on the simulator that moves the virtual clock
(probes, expiries and reloads happen as they would in real time), on a real cluster it waits for
real. No expectation sleeps on its own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.scenarios import model as m
from sandbox.scenarios.context import RunContext
from sandbox.scenarios.envelopes import EnvelopeView, first_provider_prefix, view_value
from sandbox.scenarios.operations import etcd_key, object_names

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Check:
    ok: bool
    description: str
    expected: str = ""
    observed: str = ""


async def poll(
    exp: m.Expectation, ctx: RunContext, *, timeout: float | None = None, interval: float | None = None
) -> tuple[Check, float]:
    """Checks until it holds; returns the last check and the time waited."""
    timeout = exp.timeout if timeout is None else timeout
    interval = max(exp.interval if interval is None else interval, 0.001)
    checker = _CHECKERS[type(exp)]
    waited = 0.0
    while True:
        try:
            check = await checker(exp, ctx)
        except Exception as exc:  # the backend could not answer (a dead apiserver): a failed check
            detail = " ".join(str(exc).split()) or type(exc).__name__
            check = Check(False, f"{exp.key} expectation", "an answer", f"could not be checked: {detail}")
        if exp.description:
            check = Check(check.ok, exp.description, check.expected, check.observed)
        if check.ok or isinstance(exp, m.OutcomeExpect) or waited >= timeout:
            return check, waited
        step = min(interval, timeout - waited)
        await ctx.backend.advance(step, f"waiting until {check.description}")
        waited += step


def _names_phrase(kind: str, namespace: str, names: list[str]) -> str:
    if len(names) == 1:
        return f"{kind} {namespace}/{names[0]}"
    return f"{len(names)} {kind} {namespace}/{names[0]}..{names[-1]}"


async def _envelope(exp: m.EnvelopeExpect, ctx: RunContext) -> Check:
    names = object_names(exp)
    key_id = await ctx.resolve_key(exp.key_id, exp.plugin) if exp.key_id is not None else None
    current_key = await ctx.resolve_key("current", exp.plugin) if exp.stale is not None else ""
    write_prefix = first_provider_prefix(ctx.encryption_config, exp.kind)
    wanted: list[tuple[str, Callable[[EnvelopeView], Any], Any]] = []
    if exp.encrypted is not None:
        wanted.append(("encrypted", lambda v: v.encrypted, exp.encrypted))
    if exp.prefix is not None:
        wanted.append(("prefix", lambda v: v.prefix, exp.prefix))
    if exp.provider is not None:
        wanted.append(("provider", lambda v: v.provider, exp.provider))
    if key_id is not None:
        label = f"key_id ({exp.key_id})" if exp.key_id != key_id else "key_id"
        wanted.append((label, lambda v: v.key_id, key_id))
    if exp.dek_source_type is not None:
        wanted.append(("DEK source type", lambda v: v.dek_source_type, exp.dek_source_type))
    if exp.stale is not None:
        wanted.append(("stale", lambda v: is_stale(v, current_key, write_prefix), exp.stale))
    description = f"etcd holds {_names_phrase(exp.kind, exp.namespace, names)}"
    if wanted:
        description += " with " + ", ".join(f"{label}={value}" for label, _, value in wanted)
    views = []
    for name in names:
        key = etcd_key(ctx.backend.etcd_prefix(), exp.kind, exp.namespace, name)
        ctx.touch(key)
        views.append((name, view_value(await ctx.backend.etcd_get(key))))
    present: Callable[[EnvelopeView], Any] = lambda v: v.present  # noqa: E731
    mismatches = [
        f"{name}: {label}={getter(view)!r}" if view.present else f"{name}: absent"
        for name, view in views
        for label, getter, value in [("present", present, True), *wanted]
        if getter(view) != value
    ]
    expected = ", ".join(f"{label}={value}" for label, _, value in wanted) or "present"
    if exp.distinct_dek_sources is not None:
        distinct = len({v.dek_source_hash for _, v in views if v.dek_source_hash})
        description += f", distinct DEK sources {exp.distinct_dek_sources}"
        expected += f", {exp.distinct_dek_sources} distinct DEK sources"
        if not exp.distinct_dek_sources.holds(distinct):
            mismatches.append(f"{distinct} distinct DEK sources")
    if not mismatches:
        return Check(
            True,
            description,
            expected,
            views[0][1].summary() if len(views) == 1 else f"{len(views)} values as expected",
        )
    more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
    return Check(
        False, description, expected, mismatches[0] + more + f"; first value: {views[0][1].summary()}"
    )


def is_stale(view: EnvelopeView, current_key: str, write_prefix: str | None) -> bool:
    """Whether a no-op update would rewrite this value (spec 4.6): another prefix or key_id."""
    if write_prefix is not None and view.prefix != write_prefix:
        return True
    return view.provider_type == "kms-v2" and bool(current_key) and view.key_id != current_key


async def _outcome(exp: m.OutcomeExpect, ctx: RunContext) -> Check:
    record = ctx.find_record(exp.of)
    target = f"operation {exp.of!r}" if exp.of else "the last operation"
    if record is None:
        return Check(False, f"{target} ran", "a result", "no such operation ran")
    target = f"{record.key}" + (f" {record.id!r}" if record.id else "")
    expected, problems = [], []
    results = record.results
    messages = [r.message for r in results]
    if record.listed is not None:
        results_ok = [record.listed.ok]
        codes = [record.listed.code]
        messages = [record.listed.message]
    elif record.error:
        results_ok, codes, messages = [False], [], [record.error]
    else:
        results_ok, codes = [r.ok for r in results], [r.code for r in results]
        if record.migrated is not None:
            results_ok = [not record.migrated.failed]
            messages = list(record.migrated.failed)
    if exp.ok is not None:
        expected.append("succeeded" if exp.ok else "failed")
        if any(ok != exp.ok for ok in results_ok):
            bad = sum(ok != exp.ok for ok in results_ok)
            problems.append(f"{bad} of {len(results_ok)} requests {'failed' if exp.ok else 'succeeded'}")
    if exp.code is not None:
        expected.append(f"HTTP {exp.code}")
        if any(code != exp.code for code in codes) or not codes:
            problems.append(f"HTTP {sorted(set(codes))}")
    if exp.message is not None:
        expected.append(f"message containing {exp.message!r}")
        missing = [msg for msg in messages if exp.message not in msg] or (
            [] if messages else ["(no message)"]
        )
        if missing:
            problems.append(f"message {missing[0]!r}")
    for label, want, got in (
        ("succeeded", exp.succeeded, sum(results_ok)),
        ("items", exp.items, len(record.listed.items) if record.listed else None),
        ("rewritten", exp.rewritten, record.migrated.rewritten if record.migrated else None),
        ("total", exp.total, record.migrated.total if record.migrated else None),
    ):
        if want is not None:
            expected.append(f"{label} {want}")
            if got is None or not want.holds(got):
                problems.append(f"{label} = {got}")
    description = f"{target} " + (", ".join(expected) or "ran")
    observed = "; ".join(problems) or record.summary
    return Check(not problems, description, ", ".join(expected), observed)


async def _plugin_calls(exp: m.PluginCallsExpect, ctx: RunContext) -> Check:
    counts = {"Encrypt": 0, "Decrypt": 0, "Status": 0}
    for i in ctx.plugin_indices(exp.plugin):
        now, before = await ctx.counters(i), ctx.baseline.get(i, {})
        for (method, code), n in now.items():
            if method in counts and (not exp.code or code == exp.code):
                old = before.get((method, code), 0)
                counts[method] += n - old if n >= old else n  # a restarted plugin counts from zero
    wanted = [
        (name, rng)
        for name, rng in (("Encrypt", exp.encrypt), ("Decrypt", exp.decrypt), ("Status", exp.status))
        if rng is not None
    ]
    which = "all plugins" if exp.plugin == "all" else f"plugin {exp.plugin}"
    code = f" with code {exp.code}" if exp.code else ""
    expected = ", ".join(f"{name} {rng}" for name, rng in wanted)
    observed = ", ".join(f"{name} {counts[name]}" for name, _ in wanted)
    ok = all(rng.holds(counts[name]) for name, rng in wanted)
    return Check(ok, f"KMS calls this step on {which}{code}: {expected}", expected, observed)


async def _health(exp: m.HealthExpect, ctx: RunContext) -> Check:
    result = await ctx.backend.health(exp.path, apiserver=exp.apiserver)
    expected, ok = [], True
    if exp.ok is not None:
        expected.append("healthy" if exp.ok else "failing")
        ok &= result.ok == exp.ok
    if exp.status is not None:
        expected.append(f"HTTP {exp.status}")
        ok &= result.code == exp.status
    contains = await ctx.expand(exp.contains) if exp.contains else None
    if contains is not None:
        expected.append(f"body containing {contains!r}")
        ok &= contains in result.body
    if exp.not_contains is not None:
        expected.append(f"body without {exp.not_contains!r}")
        ok &= exp.not_contains not in result.body
    server = f" on apiserver {exp.apiserver}" if exp.apiserver else ""
    text = ", ".join(expected) or "answering"
    body = result.body.strip().replace("\n", " | ")
    return Check(ok, f"{exp.path}{server} is {text}", text, f"HTTP {result.code}: {body[:400]}")


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or line.startswith("#"):
            continue
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(match.group(3) or "")}
        try:
            samples.append((match.group(1), labels, float(match.group(4))))
        except ValueError:
            continue
    return samples


async def _metric(exp: m.MetricExpect, ctx: RunContext) -> Check:
    labels = {k: await ctx.expand(v) for k, v in exp.labels.items()}
    samples = [
        value
        for name, have, value in parse_metrics(await ctx.backend.metrics(exp.apiserver))
        if name == exp.name and all(have.get(k) == v for k, v in labels.items())
    ]
    selector = exp.name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    if exp.absent:
        observed = "no series" if not samples else f"{len(samples)} series, sum {sum(samples):g}"
        return Check(not samples, f"{selector} has no series", "no series", observed)
    total = sum(samples)
    if exp.value is None:
        return Check(bool(samples), f"{selector} exists", "a series", f"{len(samples)} series")
    observed = f"{total:g}" if samples else "no series (0)"
    return Check(exp.value.holds(total), f"{selector} is {exp.value}", str(exp.value), observed)


async def _probe(exp: m.ProbeExpect, ctx: RunContext) -> Check:
    server = f"apiserver-{exp.apiserver}"
    probes = [
        p
        for p in ctx.probes_this_step()
        if (not exp.provider or p.provider == exp.provider) and (exp.apiserver is None or p.source == server)
    ]
    key_id = await ctx.resolve_key(exp.key_id) if exp.key_id is not None else None
    expected = []
    for label, value in (
        ("ok", exp.ok),
        ("healthz", exp.healthz),
        ("key_id", key_id),
        ("error containing", exp.error),
    ):
        if value is not None:
            expected.append(f"{label} {value!r}" if isinstance(value, str) else f"{label}={value}")
    text = ", ".join(expected) or "any result"
    of = f" of {exp.provider}" if exp.provider else ""
    by = f" by apiserver {exp.apiserver}" if exp.apiserver is not None else ""
    description = f"the latest Status probe{of}{by} this step: {text}"
    if not probes:
        return Check(False, description, text, "no probe yet this step")
    last = probes[-1]
    ok = (
        (exp.ok is None or last.ok == exp.ok)
        and (exp.healthz is None or last.healthz == exp.healthz)
        and (key_id is None or last.key_id == key_id)
        and (exp.error is None or exp.error in last.error)
    )
    observed = f"ok={last.ok}, healthz={last.healthz!r}, key_id={last.key_id!r}, error={last.error!r}"
    return Check(ok, description, text, observed)


_CHECKERS: dict[type[Any], Callable[[Any, RunContext], Awaitable[Check]]] = {
    m.EnvelopeExpect: _envelope,
    m.OutcomeExpect: _outcome,
    m.PluginCallsExpect: _plugin_calls,
    m.HealthExpect: _health,
    m.MetricExpect: _metric,
    m.ProbeExpect: _probe,
}
