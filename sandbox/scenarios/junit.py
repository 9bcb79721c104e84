"""JUnit XML for CI: one testsuite per scenario, one testcase per step."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from sandbox.scenarios.model import Scenario
from sandbox.scenarios.runner import RunResult


def junit_xml(runs: Sequence[tuple[Scenario, RunResult]], backend: str) -> str:
    root = ET.Element("testsuites", name="kms-sandbox scenarios")
    total = failures = skipped = 0
    for scenario, result in runs:
        ran = {step.index: step for step in result.steps}
        suite = ET.SubElement(root, "testsuite", name=scenario.name, time=f"{result.duration_s:.3f}")
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="backend", value=backend)
        suite_failures = suite_skipped = 0
        for index, step in enumerate(scenario.steps):
            case = ET.SubElement(
                suite, "testcase", classname=scenario.name, name=f"{index + 1:02d} {step.name}"
            )
            done = ran.get(index)
            if done is None:
                ET.SubElement(case, "skipped", message="an earlier step failed")
                suite_skipped += 1
                continue
            case.set("time", f"{done.duration_s:.3f}")
            if not done.ok:
                failure = ET.SubElement(
                    case, "failure", message=done.failures[0] if done.failures else "failed"
                )
                failure.text = "\n".join(done.failures)
                suite_failures += 1
        suite.set("tests", str(len(scenario.steps)))
        suite.set("failures", str(suite_failures))
        suite.set("skipped", str(suite_skipped))
        suite.set("errors", "0")
        total += len(scenario.steps)
        failures += suite_failures
        skipped += suite_skipped
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, runs: Sequence[tuple[Scenario, RunResult]], backend: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(runs, backend), encoding="utf-8")
