#!/usr/bin/env python3
"""Throughput and latency of the bundled plugin: Encrypt+Decrypt of 32-byte DEKs over a Unix socket.

The plugin runs as its own process (as in real use); the clients run here, on grpc.aio, each
with its own channel, the way one apiserver per client would. Prints one JSON object:

    {"clients_1": {"rpc_per_s", "p50_ms", "p99_ms", ...}, "clients_16": {...}, "targets": {...}}

Usage: .venv/bin/python bench/plugin.py [--seconds 5] [--clients 1,16] [--log-format text|json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.kms.client import KmsV2Client
from sandbox.kms.process import PluginProcess

TARGETS = {"rpc_per_s_at_16": 3000, "p50_ms_at_1": 0.5, "p99_ms_at_16": 5.0}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def cpu_seconds(pid: int | None) -> float:
    """User+system CPU time of a process (Linux /proc), to separate plugin cost from client cost."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_clients(
    endpoint: str, clients: int, seconds: float, plugin_pid: int | None
) -> dict[str, float]:
    kms_clients = [KmsV2Client(endpoint, timeout=10) for _ in range(clients)]
    for client in kms_clients:
        await client.status()  # connect and warm up outside the measured window
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(client: KmsV2Client) -> None:
        nonlocal errors
        dek = os.urandom(32)
        while time.perf_counter() < stop_at:
            uid = str(uuid.uuid4())
            t0 = time.perf_counter()
            try:
                enc = await client.encrypt(dek, uid)
                t1 = time.perf_counter()
                plain = await client.decrypt(enc.ciphertext, uid, enc.key_id, enc.annotations)
                t2 = time.perf_counter()
            except Exception:
                errors += 1
                continue
            assert plain == dek
            latencies.extend((t1 - t0, t2 - t1))

    started = time.perf_counter()
    plugin_cpu0, own_cpu0 = cpu_seconds(plugin_pid), time.process_time()
    await asyncio.gather(*(worker(c) for c in kms_clients))
    elapsed = time.perf_counter() - started
    plugin_cpu, own_cpu = cpu_seconds(plugin_pid) - plugin_cpu0, time.process_time() - own_cpu0
    for client in kms_clients:
        await client.close()
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "rpcs": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rpc_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3) if ordered else float("nan"),
        "plugin_cpu_us_per_rpc": round(plugin_cpu / max(1, len(latencies)) * 1e6, 1),
        "client_cpu_us_per_rpc": round(own_cpu / max(1, len(latencies)) * 1e6, 1),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--log-level", choices=("info", "warning"), default="info", help="warning: no per-call lines"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="kmsb-", dir="/tmp") as tmp:
        plugin = PluginProcess(
            Path(tmp), extra_args=("--log-format", args.log_format, "--log-level", args.log_level)
        )
        await plugin.start()
        try:
            results = {
                f"clients_{n}": await run_clients(plugin.kms_endpoint, n, args.seconds, plugin.pid)
                for n in counts
            }
        finally:
            await plugin.stop()
    report = {
        "benchmark": "plugin Encrypt+Decrypt, 32-byte DEK, plugin in its own process",
        "python": platform.python_version(),
        "plugin_log_level": args.log_level,
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
        **results,
        "targets": TARGETS,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
