"""The runner on the real simulator: every operation and expectation type, failures, reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from sandbox.backends.factory import make_backend
from sandbox.core.events import EventBus, ExpectationChecked, OperationFinished, ScenarioFinished
from sandbox.scenarios.junit import junit_xml
from sandbox.scenarios.model import EXPECTATION_TYPES, OPERATION_TYPES, WaitOp, load_scenario
from sandbox.scenarios.report import redact_scenario_source, write_report
from sandbox.scenarios.runner import RunResult, ScenarioRun, backend_options_for
from tests.scenarios.conftest import DATA, RunScenario


async def test_every_operation_and_expectation_type_runs(run_on_sim: RunScenario) -> None:
    scenario = load_scenario(DATA / "every-operation.yaml")
    ops = [op for step in scenario.steps for op in step.operations]
    used_ops: set[type[Any]] = {type(op) for op in ops}
    used_exps: set[type[Any]] = {type(e) for step in scenario.steps for e in step.expect}
    used_exps |= {type(op.until) for op in ops if isinstance(op, WaitOp)}
    assert set(OPERATION_TYPES) <= used_ops, sorted(t.key for t in set(OPERATION_TYPES) - used_ops)
    assert set(EXPECTATION_TYPES) <= used_exps

    result, bus = await run_on_sim(scenario)
    assert result.ok, "\n".join(result.failures)
    finished = [e for e in bus.history(["operation"]) if isinstance(e, OperationFinished)]
    assert len(finished) == len(ops)
    failed_ops = {e.operation for e in finished if not e.ok}
    assert failed_ops == {"get"}  # the 404, the nil transformer and the bad annotation, all expected


async def test_a_failing_expectation_fails_the_run_with_expected_and_observed(
    run_on_sim: RunScenario,
) -> None:
    scenario = load_scenario(DATA / "failing.yaml")
    result, bus = await run_on_sim(scenario)
    assert not result.ok
    assert len(result.steps) == 1, "the run stops at the first failed step"
    (failure,) = result.failures
    assert "expected encrypted=False" in failure and "observed s-0: encrypted=True" in failure
    checks = [e for e in bus.history(["expectation"]) if isinstance(e, ExpectationChecked)]
    assert [c.ok for c in checks] == [False]
    assert checks[0].observed.startswith("s-0: encrypted=True")
    (finished,) = [e for e in bus.history(["scenario.finish"]) if isinstance(e, ScenarioFinished)]
    assert not finished.ok and finished.failures == result.failures
    # polling advanced virtual time by the expectation's timeout before giving up
    assert finished.virtual_s >= 3.0

    root = ET.fromstring(junit_xml([(scenario, result)], "sim").split("\n", 1)[1])
    assert root.get("tests") == "2" and root.get("failures") == "1" and root.get("skipped") == "1"
    case = root.find("testsuite/testcase/failure")
    assert case is not None and "observed" in (case.text or "")


async def test_an_unexpected_api_error_fails_the_step(run_on_sim: RunScenario, tmp_path: Path) -> None:
    path = tmp_path / "unexpected.yaml"
    path.write_text(
        (DATA / "failing.yaml")
        .read_text()
        .replace(
            "      - envelope: {name: s-0, encrypted: false, timeout: 3s}\n", "      - health: {ok: true}\n"
        )
        .replace("      - create: {name: s-0,", "      - get: {name: nope}\n      - create: {name: s-0,")
    )
    result, _ = await run_on_sim(load_scenario(path))
    assert not result.ok
    assert any(
        "operation get failed and no outcome expectation expects it: HTTP 404" in f for f in result.failures
    )


async def test_run_step_runs_one_step_at_a_time(short_tmp: Path) -> None:
    scenario = load_scenario(DATA / "every-operation.yaml")
    bus = EventBus()
    options = backend_options_for(scenario, {"count": "3"}, state_dir=str(short_tmp / "steps"))
    async with make_backend("sim", options, bus) as backend:
        run = ScenarioRun(backend, scenario, {"count": "3"})
        with pytest.raises(ValueError, match="the next step is 0"):
            await run.run_step(1)
        first = await run.run_step(0)
        assert first.ok and first.index == 0 and not run.done
        assert [e.kind for e in bus.history(["scenario.start", "step.finish"])] == [
            "scenario.start",
            "step.finish",
        ]
        await run.run_step(1)
        await run.run_step(2)
        assert [r.index for r in run.results] == [0, 1, 2]
        result = run.finish()
        assert result.ok, result.failures
        assert run.finish() is result
        await run.close()
    assert len(bus.history(["scenario.finish"])) == 1


async def test_report_bundle_has_everything_and_no_secret(run_on_sim: RunScenario, tmp_path: Path) -> None:
    scenario = load_scenario(DATA / "every-operation.yaml")
    bundles: list[Path] = []
    secrets: list[str] = []

    async def after(run: ScenarioRun, result: RunResult) -> None:
        bundles.append(await write_report(tmp_path / "report", run, result))
        secrets.extend(sorted(run.context.secret_values))

    result, _ = await run_on_sim(scenario, after=after)
    assert result.ok
    (bundle,) = bundles
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert {
        "scenario.yaml",
        "versions.json",
        "events.jsonl",
        "envelopes.json",
        "health.json",
        "plugins.json",
        "REPORT.md",
        "metrics-apiserver-0.txt",
        "logs/plugin-0.log",
    } <= names
    versions = json.loads((bundle / "versions.json").read_text())
    assert versions["backend"] == "sim" and versions["kubernetes"].startswith("1.34") and versions["python"]
    events = [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines()]
    assert {"scenario.start", "step.start", "operation", "expectation", "scenario.finish"} <= {
        e["kind"] for e in events
    }
    envelopes = json.loads((bundle / "envelopes.json").read_text())
    assert envelopes["/registry/secrets/default/obj-0"]["provider"] == "kms-test"
    assert "failed to validate annotations" in envelopes["/registry/secrets/default/obj-0"]["invalid"]
    report = (bundle / "REPORT.md").read_text()
    assert "every-operation" in report and "passed" in report and "/registry/secrets/default/obj-0" in report

    assert "every-op-value-0" in secrets and "every-op-changed" in secrets
    everything = b"".join(p.read_bytes() for p in bundle.rglob("*") if p.is_file())
    for value in [*secrets, "every-op-value-{i}", "${marker}-value-{i}"]:
        assert value.encode() not in everything, value
    assert b"<redacted>" in (bundle / "scenario.yaml").read_bytes()


def test_redaction_keeps_layout_and_comments() -> None:
    source = "# note\nsteps:\n  - create: {name: a, data: {pw: hunter22, other: 'x y'}}  # keep\n"
    out = redact_scenario_source(source)
    assert "hunter22" not in out and "x y" not in out
    assert out.startswith("# note\n") and out.rstrip().endswith("# keep")
    assert out.count('"<redacted>"') == 2
