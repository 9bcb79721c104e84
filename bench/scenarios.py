"""Scenario figures: the bundled catalogue on the simulator, and report-bundle write times.

Prints one JSON object. `--jobs 2` runs two scenarios at a time (the target machine has 2 cores;
each scenario has its own backend, plugin process and event bus, so runs are independent).

    .venv/bin/python bench/scenarios.py [--jobs 2] [--set restart-time-decryption.secrets=1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.backends.factory import make_backend
from sandbox.core.events import EventBus
from sandbox.scenarios.model import Scenario, bundled_scenarios
from sandbox.scenarios.report import write_report
from sandbox.scenarios.runner import ScenarioRun, backend_options_for


async def run_one(scenario: Scenario, reports: Path) -> dict[str, Any]:
    started = time.perf_counter()
    options = backend_options_for(scenario)
    async with make_backend("sim", options, EventBus(history=200_000)) as backend:
        run = ScenarioRun(backend, scenario)
        result = await run.run()
        report_started = time.perf_counter()
        await write_report(reports, run, result)
        report_s = time.perf_counter() - report_started
    return {
        "scenario": scenario.name,
        "ok": result.ok,
        "wall_s": round(time.perf_counter() - started, 3),
        "steps_s": round(result.duration_s, 3),
        "cluster_time_s": round(result.virtual_s, 1),
        "report_s": round(report_s, 4),
    }


async def main(jobs: int) -> dict[str, Any]:
    catalogue = bundled_scenarios()
    gate = asyncio.Semaphore(jobs)
    with tempfile.TemporaryDirectory(prefix="kms-bench-") as tmp:

        async def limited(scenario: Scenario) -> dict[str, Any]:
            async with gate:
                return await run_one(scenario, Path(tmp))

        started = time.perf_counter()
        rows = await asyncio.gather(*(limited(s) for s in catalogue))
        total = time.perf_counter() - started
    return {
        "backend": "sim",
        "jobs": jobs,
        "scenarios": len(rows),
        "all_ok": all(r["ok"] for r in rows),
        "catalogue_wall_s": round(total, 2),
        "max_report_s": max(r["report_s"] for r in rows),
        "runs": rows,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run at a time")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.jobs)), indent=2))
