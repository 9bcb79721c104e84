"""Simulator speed and the seed's headline: what an apiserver restart costs, KMS v2 versus v1.

Usage: `.venv/bin/python bench/sim_restart.py --secrets 10000` prints one JSON object:

* v2: time to write N secrets (writes never call the plugin), time to restart the apiserver
  (with the watch cache on, the default, its initial LIST decodes every secret there) and to
  read every secret back, and the Decrypt calls that took (one per distinct seed);
* v1 (cachesize 1000): the same for `--v1-secrets` objects (every write is an Encrypt RPC, every
  cold read a Decrypt RPC);
* the restart cost with a remote KMS taking `--latency-ms` per call, in virtual time: upstream
  decodes the watch cache's initial LIST serially, so the cost is its Decrypt calls x latency
  (a v1 LRU smaller than the object count misses again on the later read-all);
* peak RSS of this process (the plugin runs in its own process).

The plugin is the real bundled plugin process; the apiserver the simulator on virtual time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.backends.base import BackendOptions
from sandbox.backends.sim import SimBackend

V1_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {name: kms-v1, endpoint: $PLUGIN_ENDPOINT, cachesize: 1000}
      - identity: {}
"""


async def decrypt_calls(backend: SimBackend) -> int:
    state = await backend.control(0).get_state()
    return sum(n for (method, _code), n in state.counters.items() if method == "Decrypt")


async def run(options: BackendOptions, secrets: int, payload: bytes, watch_cache: bool) -> dict[str, float]:
    backend = SimBackend(options, watch_cache=watch_cache)
    async with backend:
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(secrets):
            result = await backend.create("secrets", f"ns-{i % 10}", f"secret-{i:06d}", {"data": payload})
            if not result.ok:
                raise SystemExit(f"write {i} failed: {result.message}")
        write_s, write_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        before = await decrypt_calls(backend)
        start, cpu = time.perf_counter(), time.process_time()
        await backend.restart_apiserver()  # with the watch cache: its initial LIST decodes everything
        restart_s = time.perf_counter() - start
        in_restart = await decrypt_calls(backend) - before
        start = time.perf_counter()
        listed = await backend.list("secrets")
        read_s = time.perf_counter() - start
        restart_and_read_cpu_s = time.process_time() - cpu
        if not listed.ok or len(listed.items) != secrets:
            raise SystemExit(f"read-back failed: {listed.message}")
        return {
            "secrets": secrets,
            "write_s": round(write_s, 3),
            "writes_per_s": round(secrets / write_s),
            "restart_s": round(restart_s, 3),
            "read_all_s": round(read_s, 3),
            "restart_and_read_all_s": round(restart_s + read_s, 3),
            # CPU seconds of this process: less sensitive than wall time to other jobs on the cores.
            "write_cpu_s": round(write_cpu_s, 3),
            "restart_and_read_all_cpu_s": round(restart_and_read_cpu_s, 3),
            "decrypt_calls_in_restart": in_restart,
            "decrypt_calls_after_restart": await decrypt_calls(backend) - before,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=10_000, help="KMS v2 secrets to write (default 10000)")
    parser.add_argument("--v1-secrets", type=int, default=2_000, help="KMS v1 secrets (each write is an RPC)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="remote KMS latency per call")
    parser.add_argument("--payload", type=int, default=64, help="bytes of data per secret")
    parser.add_argument(
        "--no-watch-cache",
        action="store_true",
        help="no watch cache: no initial LIST at restart, no extra decode per write",
    )
    args = parser.parse_args()
    if args.secrets < 1 or args.v1_secrets < 1 or args.latency_ms < 0 or args.payload < 0:
        parser.error("--secrets and --v1-secrets must be >= 1; --latency-ms and --payload >= 0")
    payload = b"x" * args.payload
    load_at_start = round(os.getloadavg()[0], 2)  # 2 shared cores: say how busy they were
    watch_cache = not args.no_watch_cache
    v2 = await run(BackendOptions(), args.secrets, payload, watch_cache)
    v1 = await run(
        BackendOptions(plugin_api="v1", encryption_config=V1_CONFIG, feature_gates={"KMSv1": True}),
        args.v1_secrets,
        payload,
        watch_cache,
    )
    latency = args.latency_ms / 1000
    # The restart's cost is the watch cache's initial LIST (without one: the first read of each).
    cost_key = "decrypt_calls_in_restart" if watch_cache else "decrypt_calls_after_restart"
    out = {
        "watch_cache": watch_cache,
        "load_average_1m_at_start": load_at_start,
        "kms_v2": v2,
        "kms_v1_cachesize_1000": v1,
        "remote_kms_latency_ms": args.latency_ms,
        "virtual_restart_cost_s": {
            "kms_v2": round(v2[cost_key] * latency, 3),
            "kms_v1": round(v1[cost_key] * latency, 3),
            "kms_v1_per_10000_secrets": round(10_000 * latency, 3),
        },
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
