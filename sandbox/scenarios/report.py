"""Bug-report bundles: everything needed to file an issue about a run, and nothing secret.

`write_report` saves, while the backend is still up: the scenario file (data values redacted),
versions, the event transcript (JSON lines), envelope metadata of every object the run touched,
plugin and apiserver logs, health and metrics snapshots, plugin state, and a REPORT.md summary
to paste into an issue. Events carry no secrets by design; as a second line of defence every
data value the scenario wrote is scrubbed from every file before it is written.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from sandbox import __version__
from sandbox.scenarios.envelopes import view_value
from sandbox.scenarios.runner import RunResult, ScenarioRun

HEALTH_PATHS = ("/healthz", "/readyz", "/livez", "/healthz/kms-providers")
REDACTED = "<redacted>"
MIN_SCRUB_LEN = 4
"""Shorter values are not scrubbed: replacing "a" everywhere would wreck the transcript."""


class Scrubber:
    """Replaces every secret value the scenario wrote with <redacted>.

    Runs over megabytes of transcript with thousands of values, so values that are single tokens
    (the usual case) are found with one regex pass and a set lookup, not one search per value.
    """

    TOKEN = re.compile(r"[^\s\"'`,:;{}\[\]()<>=|\\]+")

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_SCRUB_LEN}
        self.tokens = {s for s in values if self.TOKEN.fullmatch(s)}
        self.others = sorted(values - self.tokens, key=len, reverse=True)

    def _token(self, match: re.Match[str]) -> str:
        return REDACTED if match.group(0) in self.tokens else match.group(0)

    def __call__(self, text: str) -> str:
        if self.tokens:
            text = self.TOKEN.sub(self._token, text)
        for secret in self.others:
            text = text.replace(secret, REDACTED)
        return text


def redact_scenario_source(source: str) -> str:
    """The scenario text with every `data:` value of create/update operations replaced, in place.

    Node marks give each value's exact span, so comments and layout survive.
    """
    try:
        root = yaml.compose(source)
    except yaml.YAMLError:
        return source
    spans: list[tuple[int, int]] = []

    def walk(node: Any, under_data: bool) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if under_data and isinstance(value, yaml.ScalarNode):
                    spans.append((value.start_mark.index, value.end_mark.index))
                else:
                    walk(value, key.value == "data")
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, False)

    walk(root, False)
    out = source
    for start, end in sorted(spans, reverse=True):
        out = out[:start] + f'"{REDACTED}"' + out[end:]
    return out


async def write_report(directory: Path, run: ScenarioRun, result: RunResult) -> Path:
    """Writes the bundle into `directory/<scenario name>/` and returns that path."""
    backend, ctx, scenario = run.backend, run.context, run.scenario
    out = directory / scenario.name
    (out / "logs").mkdir(parents=True, exist_ok=True)
    scrub = Scrubber(ctx.secret_values)

    def save(name: str, text: str) -> None:
        (out / name).write_text(scrub(text), encoding="utf-8")

    def save_json(name: str, data: Any) -> None:
        save(name, json.dumps(data, indent=2, default=str) + "\n")

    save("scenario.yaml", redact_scenario_source(scenario.source))
    versions = {
        "kms-sandbox": __version__,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        **backend.versions(),
    }
    save_json("versions.json", versions)
    save(
        "events.jsonl",
        "".join(json.dumps(e.to_dict(), default=str) + "\n" for e in backend.events.history()),
    )
    envelopes = {}
    for key in ctx.touched:
        view = view_value(await backend.etcd_get(key))
        envelopes[key] = dataclasses.asdict(view)
    save_json("envelopes.json", envelopes)
    for name, text in backend.logs().items():
        save(f"logs/{Path(name).name}.log", text)
    health = {}
    for i in range(backend.apiserver_count):
        for path in HEALTH_PATHS:
            try:
                answer = await backend.health(path, apiserver=i)
                health[f"apiserver-{i} {path}"] = {"code": answer.code, "body": answer.body}
            except Exception as exc:
                health[f"apiserver-{i} {path}"] = {"error": str(exc)}
        try:
            save(f"metrics-apiserver-{i}.txt", await backend.metrics(i))
        except Exception as exc:
            save(f"metrics-apiserver-{i}.txt", f"# metrics unavailable: {exc}\n")
    save_json("health.json", health)
    plugins = {}
    for i in range(backend.plugin_count):
        try:
            state = await ctx.state(i)
            plugins[f"plugin-{i}"] = {
                "api": state.api,
                "current_key_id": state.current_key_id,
                "keys": [dataclasses.asdict(k) for k in state.keys],
                "retired_key_ids": list(state.retired_key_ids),
                "outage": state.outage,
                "faults": [dataclasses.asdict(f) for f in state.faults],
                "counters": {f"{m} {c}": n for (m, c), n in state.counters.items()},
            }
        except Exception as exc:
            plugins[f"plugin-{i}"] = {"error": f"not reachable: {exc}"}
    save_json("plugins.json", plugins)
    save("REPORT.md", _summary(run, result, versions, envelopes, health))
    return out


def _summary(
    run: ScenarioRun,
    result: RunResult,
    versions: dict[str, str],
    envelopes: dict[str, dict[str, Any]],
    health: dict[str, dict[str, Any]],
) -> str:
    scenario = run.scenario
    lines = [
        f"# kms-sandbox scenario `{scenario.name}`: {'passed' if result.ok else 'FAILED'}",
        "",
        f"**{scenario.title}**. {scenario.summary}",
        "",
    ]
    if scenario.issues:
        lines += ["Reproduces: " + ", ".join(scenario.issues), ""]
    if scenario.parameter_values:
        lines += ["Parameters: " + ", ".join(f"`{k}={v}`" for k, v in scenario.parameter_values.items()), ""]
    lines += ["## Versions", "", "| Component | Version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in versions.items()]
    lines += ["", "## Steps", "", "| # | Step | Result | Cluster time |", "|---|---|---|---|"]
    for step in result.steps:
        lines.append(
            f"| {step.index + 1} | {step.name} | {'ok' if step.ok else 'FAILED'} | {step.virtual_s:.0f} s |"
        )
    for index in range(len(result.steps), len(scenario.steps)):
        lines.append(f"| {index + 1} | {scenario.steps[index].name} | not run | |")
    if result.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {f}" for f in result.failures]
    lines += ["", "## Stored values (metadata only)", "", "| etcd key | Stored as |", "|---|---|"]
    for key, env in list(envelopes.items())[:50]:
        stored = (env["prefix"] or "plaintext") if env["present"] else "absent"
        if env.get("key_id"):
            stored += f" key_id={env['key_id']}"
        lines.append(f"| `{key}` | `{stored}` |")
    if len(envelopes) > 50:
        lines.append(f"| ... {len(envelopes) - 50} more in envelopes.json | |")
    lines += ["", "## Health at the end", "", "| Endpoint | HTTP |", "|---|---|"]
    lines += [f"| {k} | {v.get('code', v.get('error'))} |" for k, v in health.items()]
    lines += [
        "",
        "## Files",
        "",
        "scenario.yaml (data values redacted), versions.json, events.jsonl (every event), envelopes.json,",
        "plugins.json, health.json, metrics-apiserver-N.txt, logs/. No plaintext values or key material.",
        "",
    ]
    return "\n".join(lines)
