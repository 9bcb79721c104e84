"""`kms-sandbox run`, `scenarios` and `schema` as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.scenarios.conftest import DATA


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_scenarios_lists_the_catalogue() -> None:
    out = cli("scenarios")
    assert out.returncode == 0, out.stderr
    assert "first-encryption" in out.stdout and "health-check-cost" in out.stdout
    rows = json.loads(cli("scenarios", "--json").stdout)
    assert len(rows) == 15 and {"name", "title", "summary", "issues", "parameters"} <= set(rows[0])


def test_schema_prints_the_json_schema() -> None:
    out = cli("schema")
    assert out.returncode == 0
    assert json.loads(out.stdout)["title"] == "kms-sandbox scenario"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (DATA / "failing.yaml").read_text().replace("  - name: never reached", "  - nam: never reached")
    )
    cases = [
        (("run", str(bad)), f"{bad}:21:5: steps[1]: unknown field 'nam'"),
        (("run", "no-such-scenario"), "no bundled scenario named 'no-such-scenario'"),
        (("run", "first-encryption", "--set", "nope=1"), "unknown parameter 'nope'"),
        (("run", "first-encryption", "--set", "secrets"), "expected KEY=VALUE"),
        (("run", "first-encryption", "--set", "secrets=lots"), "--set secrets=lots: expected an int"),
        (
            ("run", str(DATA / "every-operation.yaml"), "--backend", "kind"),
            "runs on sim, not on the kind backend",
        ),
    ]
    for args, message in cases:
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert message in out.stderr, out.stderr


def test_run_failing_scenario_exits_1_with_json_and_junit(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    out = cli("run", str(DATA / "failing.yaml"), "--json", "--junit", str(junit))
    assert out.returncode == 1, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds.count("scenario.start") == kinds.count("scenario.finish") == 1
    assert kinds.index("scenario.start") < kinds.index("step.start") < kinds.index("scenario.finish")
    assert "plugin.call" in kinds or "apiserver.probe" in kinds, "backend events are in the stream too"
    failed = [e for e in events if e["kind"] == "expectation" and not e["ok"]]
    assert failed and failed[0]["expected"] == "encrypted=False"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_run_passing_scenario_prints_narrative_and_writes_a_report(tmp_path: Path) -> None:
    out = cli("run", "annotation-limits", "--report", str(tmp_path / "r"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Step 1/7: A valid annotation" in out.stdout
    assert "annotation-limits passed" in out.stdout
    assert "\x1b[" not in out.stdout, "no colour when not a terminal"
    bundle = tmp_path / "r" / "annotation-limits"
    assert (bundle / "REPORT.md").is_file() and (bundle / "events.jsonl").is_file()
    everything = b"".join(p.read_bytes() for p in bundle.rglob("*") if p.is_file())
    assert b"annotations-0" not in everything and b"annotations-{i}" not in everything
