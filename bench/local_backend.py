"""Local-backend figures: warm start to ready, per-scenario wall time, restart-time decryption.

Prints one JSON object. Needs the binaries (`kms-sandbox setup local`). The cold setup time is
quoted from docs/local-backend.md (a cold build takes ~15 min on 2 cores and is not repeated
here: it would evict nothing but costs the machine a quarter of an hour).

    .venv/bin/python bench/local_backend.py [--starts 3] [--secrets 200] [--scenario first-encryption]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from sandbox.backends.base import Backend, BackendOptions
from sandbox.backends.factory import make_backend
from sandbox.backends.local.backend import LocalBackend
from sandbox.core.events import EventBus, PluginCall
from sandbox.scenarios.model import find_scenario
from sandbox.scenarios.runner import ScenarioRun, backend_options_for

COLD_SETUP_S = 950.0
"""`kms-sandbox setup local` with a cold Go build cache, measured in phase 1 (docs/local-backend.md)."""

KUBE_VERSION = "1.37"


async def warm_starts(count: int) -> list[float]:
    """Seconds from nothing to every process ready (PKI, etcd, plugin, apiserver, namespace)."""
    out = []
    for _ in range(count):
        started = time.perf_counter()
        backend = LocalBackend(BackendOptions(kube_version=KUBE_VERSION))
        async with backend:
            out.append(time.perf_counter() - started)
    return out


def _decrypts(backend: Backend, since: int) -> int:
    calls = backend.events.history(["plugin.call"])[since:]
    return sum(1 for e in calls if isinstance(e, PluginCall) and e.method == "Decrypt")


async def restart_decryption(name: str, secrets: int, decrypt_ms: float) -> dict[str, Any]:
    """N secrets under KMS v2, a restart, then Decrypt calls and the time to list them all."""
    options = BackendOptions(kube_version=KUBE_VERSION)
    async with make_backend(name, options, EventBus(history=100_000)) as backend:
        for i in range(secrets):
            await backend.create("secrets", "default", f"s-{i:04d}", {"v": f"bench-{i}".encode()})
        if decrypt_ms:
            from sandbox.kms.control_client import PluginControlClient

            async with PluginControlClient(backend.plugin_control_endpoint(0)) as control:
                await control.set_remote_latency(0, decrypt_ms)
        await asyncio.sleep(0.5)  # let watch-cache decodes of the last writes finish
        before = len(backend.events.history(["plugin.call"]))
        restarted = time.perf_counter()
        await backend.restart_apiserver(0)
        back = time.perf_counter()
        listed = await backend.list("secrets", "default")
        done = time.perf_counter()
        await asyncio.sleep(1.0)  # relayed events of the last calls
        return {
            "backend": name,
            "secrets": secrets,
            "listed": len(listed.items),
            "decrypt_calls": _decrypts(backend, before),
            "restart_s": round(back - restarted, 3),
            "list_after_restart_s": round(done - back, 3),
        }


async def scenario_wall(name: str) -> dict[str, Any]:
    scenario = find_scenario(name)
    scenario = scenario.with_parameters({"secrets": "2"} if "secrets" in scenario.parameters else {})
    options = backend_options_for(scenario, kube_version=KUBE_VERSION)
    started = time.perf_counter()
    async with make_backend("local", options, EventBus(history=200_000)) as backend:
        result = await ScenarioRun(backend, scenario).run()
    return {"scenario": name, "ok": result.ok, "wall_s": round(time.perf_counter() - started, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--decrypt-ms", type=float, default=1.0)
    parser.add_argument("--scenario", action="append", default=[], help="bundled scenario to time")
    args = parser.parse_args()
    starts = await warm_starts(args.starts)
    restarts = [await restart_decryption(name, args.secrets, args.decrypt_ms) for name in ("local", "sim")]
    scenarios = [await scenario_wall(name) for name in args.scenario]
    print(
        json.dumps(
            {
                "cold_setup_s": COLD_SETUP_S,
                "cold_setup_source": "docs/local-backend.md (phase 1 measurement)",
                "warm_start_s": [round(s, 2) for s in starts],
                "warm_start_median_s": round(statistics.median(starts), 2),
                "restart_decryption": restarts,
                "scenarios": scenarios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
