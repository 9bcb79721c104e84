"""Every bundled scenario runs green on the real simulator with the real plugin process."""

from __future__ import annotations

import pytest

from sandbox.scenarios.loader import bundled_name, bundled_paths
from sandbox.scenarios.model import bundled_scenarios, find_scenario
from tests.scenarios.conftest import RunScenario

# The catalogue default of 1000 objects per KMS API takes ~6 s; bench/scenarios.py runs it.
FASTER = {"restart-time-decryption": {"secrets": "200"}}
NAMES = [bundled_name(p) for p in bundled_paths()]


def test_the_catalogue_has_fifteen_scenarios_named_after_their_files() -> None:
    catalogue = bundled_scenarios()
    assert [s.name for s in catalogue] == NAMES
    assert len(catalogue) == 15
    for scenario in catalogue:
        assert scenario.summary and scenario.title and scenario.teaches
        assert scenario.issues, f"{scenario.name} names no upstream issue"
        assert all("#" in ref and "/" in ref for ref in scenario.issues)
        assert all(step.narrative.strip() for step in scenario.steps), scenario.name
        assert scenario.path.read_text().startswith(
            "# yaml-language-server: $schema=../sandbox/scenarios/scenario.schema.json\n"
        )


@pytest.mark.parametrize("name", NAMES)
async def test_bundled_scenario_is_green_on_the_simulator(name: str, run_on_sim: RunScenario) -> None:
    scenario = find_scenario(name)
    result, bus = await run_on_sim(scenario, FASTER.get(name))
    assert result.ok, "\n".join(result.failures)
    assert len(result.steps) == len(scenario.steps)
    checked = [e for e in bus.history(["expectation"])]
    assert checked and all(e.to_dict()["ok"] for e in checked)
    assert sum(len(step.checks) for step in result.steps) == len(checked)


async def test_restart_time_decryption_is_paid_by_the_restart_not_the_reads(run_on_sim: RunScenario) -> None:
    scenario = find_scenario("restart-time-decryption")
    result, _ = await run_on_sim(scenario, {"secrets": "30"})
    assert result.ok, "\n".join(result.failures)
    restart, reads = result.steps[1], result.steps[2]
    # 30 Secrets, 30 ConfigMaps and the 2 kube-system ConfigMaps a fresh apiserver writes; the
    # start's own /readyz adds a KMS v1 ping (one more Decrypt).
    assert any("initial LIST decoded 62 objects" in op for op in restart.operations), restart.operations
    observed = {c.description: c.observed for c in restart.checks}
    assert observed["KMS calls this step on plugin 0: Encrypt 1, Decrypt 1"] == "Encrypt 1, Decrypt 1"
    assert observed["KMS calls this step on plugin 1: Decrypt >= 30"] == "Decrypt 33"
    assert {c.observed for c in reads.checks if c.description.startswith("KMS calls")} == {
        "Encrypt 0, Decrypt 0",
        "Decrypt 0",
    }
