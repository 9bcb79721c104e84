#!/usr/bin/env python3
"""Throughput and latency of the bundled plugin: Encrypt+Decrypt of 32-byte DEKs over a Unix socket.

The plugin runs as its own process (as in real use). The load comes from separate client
processes, so the client's own CPU and GIL do not throttle the plugin: with 16 clients, two
processes of 8 threads each (`--client-procs`), every thread with its own channel like one
apiserver each, using grpc's synchronous stubs (the C core waits for answers without the GIL).
Client processes start together at an agreed instant after connecting and warming up.

Prints one JSON object: every run, and per client count the median of the runs:

    {"runs": [...], "median": {"clients_1": {"rpc_per_s", "p50_ms", "p99_ms",
     "plugin_cpu_us_per_rpc", ...}, "clients_16": {...}}, "targets": {...}, "load_average": ...}

`--baseline` also measures bare echo servers (grpc.aio and sync grpc.server with a thread pool,
no crypto, no logging) with the same clients: the floor the gRPC runtime sets on this machine.

Usage: .venv/bin/python bench/plugin.py [--seconds 4] [--clients 1,16] [--repeat 3]
       [--client-procs 2] [--log-level info|warning] [--baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = {"rpc_per_s_at_16": 3000, "p50_ms_at_1": 0.5, "p99_ms_at_16": 5.0}
START_MARGIN_S = 2.5
"""Time for client processes to import grpc, connect and warm up before the agreed start."""


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- client worker process -------------------------------------------------------------------


def client_worker(target: str, threads: int, seconds: float, start_at: float) -> None:
    """Runs `threads` callers until start_at + seconds; prints latencies (µs) and CPU as JSON."""
    import threading
    import uuid

    import grpc

    from sandbox._proto.kms.v2 import api_pb2 as pb
    from sandbox._proto.kms.v2 import api_pb2_grpc as pb_grpc

    latencies: list[float] = []
    errors = 0
    ready = threading.Barrier(threads + 1)
    lock = threading.Lock()

    def caller() -> None:
        nonlocal errors
        channel = grpc.insecure_channel(target, options=[("grpc.default_authority", "localhost")])
        stub = pb_grpc.KeyManagementServiceStub(channel)  # type: ignore[no-untyped-call]
        stub.Status(pb.StatusRequest(), timeout=30)  # connect outside the measured window
        ready.wait()
        dek = os.urandom(32)
        mine: list[float] = []
        failed = 0
        while time.time() < start_at:
            time.sleep(0.0005)
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            uid = str(uuid.uuid4())
            try:
                t0 = time.perf_counter()
                enc = stub.Encrypt(pb.EncryptRequest(plaintext=dek, uid=uid), timeout=10)
                t1 = time.perf_counter()
                dec = stub.Decrypt(
                    pb.DecryptRequest(
                        ciphertext=enc.ciphertext, uid=uid, key_id=enc.key_id, annotations=enc.annotations
                    ),
                    timeout=10,
                )
                t2 = time.perf_counter()
            except grpc.RpcError:
                failed += 1
                continue
            if dec.plaintext != dek:
                failed += 1
                continue
            mine += (round((t1 - t0) * 1e6, 1), round((t2 - t1) * 1e6, 1))
        channel.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    late = time.time() > start_at
    cpu0 = time.process_time()
    for worker in workers:
        worker.join()
    print(
        json.dumps({"lat_us": latencies, "errors": errors, "cpu_s": time.process_time() - cpu0, "late": late})
    )


# --- bare echo servers (--baseline) ----------------------------------------------------------


def echo_server(kind: str, target: str) -> None:
    """A bare KMS v2 server that echoes: the gRPC runtime's own cost, nothing of ours."""
    import grpc

    from sandbox._proto.kms.v2 import api_pb2 as pb

    def status(_request: object, _context: object) -> object:
        return pb.StatusResponse(version="v2", healthz="ok", key_id="echo")

    def encrypt(request: pb.EncryptRequest, _context: object) -> object:
        return pb.EncryptResponse(ciphertext=request.plaintext, key_id="echo")

    def decrypt(request: pb.DecryptRequest, _context: object) -> object:
        return pb.DecryptResponse(plaintext=request.ciphertext)

    handlers: dict[str, Callable[..., object]] = {"Status": status, "Encrypt": encrypt, "Decrypt": decrypt}
    if kind == "sync":
        from concurrent.futures import ThreadPoolExecutor

        server = grpc.server(ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((_generic(handlers, pb),))
        server.add_insecure_port(target)
        server.start()
        server.wait_for_termination()
        return

    def on_loop(fn: Callable[..., object]) -> Callable[..., Awaitable[object]]:
        async def handler(request: object, context: object) -> object:
            return fn(request, context)

        return handler

    async def serve_aio() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_generic({n: on_loop(f) for n, f in handlers.items()}, pb),))
        server.add_insecure_port(target)
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve_aio())


def _generic(handlers: dict[str, Callable[..., object]], pb: object) -> Any:
    import grpc

    methods = {
        name: grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=getattr(pb, f"{name}Request").FromString,
            response_serializer=lambda m: m.SerializeToString(),
        )
        for name, fn in handlers.items()
    }
    return grpc.method_handlers_generic_handler("v2.KeyManagementService", methods)


# --- the driver ------------------------------------------------------------------------------


def run_load(target: str, server_pid: int, clients: int, procs: int, seconds: float) -> dict[str, object]:
    """One measured run: `clients` callers spread over `procs` client processes."""
    procs = max(1, min(procs, clients))
    per_proc = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    start_at = time.time() + START_MARGIN_S
    load_before = os.getloadavg()[0]
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", target, str(n), str(seconds), str(start_at)],
            stdout=subprocess.PIPE,
        )
        for n in per_proc
    ]
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = cpu_seconds(server_pid)
    outputs = [json.loads(child.communicate()[0]) for child in children]
    server_cpu = cpu_seconds(server_pid) - cpu0
    ordered = sorted(x / 1e6 for out in outputs for x in out["lat_us"])
    rpcs = len(ordered)
    return {
        "clients": clients,
        "client_procs": procs,
        "rpcs": rpcs,
        "errors": sum(out["errors"] for out in outputs),
        "late_start": any(out["late"] for out in outputs),
        "rpc_per_s": round(rpcs / seconds, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3) if ordered else float("nan"),
        "plugin_cpu_us_per_rpc": round(server_cpu / max(1, rpcs) * 1e6, 1),
        "client_cpu_us_per_rpc": round(sum(out["cpu_s"] for out in outputs) / max(1, rpcs) * 1e6, 1),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
    }


def medians(runs: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for clients in sorted({int(str(r["clients"])) for r in runs}):
        mine = [r for r in runs if r["clients"] == clients]
        out[f"clients_{clients}"] = {
            key: statistics.median(float(str(r[key])) for r in mine)
            for key in ("rpc_per_s", "p50_ms", "p99_ms", "plugin_cpu_us_per_rpc", "client_cpu_us_per_rpc")
        }
    return out


async def measure_plugin(args: argparse.Namespace, counts: list[int]) -> list[dict[str, object]]:
    from sandbox.kms.process import PluginProcess

    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="kmsb-", dir="/tmp") as tmp:
        plugin = PluginProcess(
            Path(tmp), extra_args=("--log-format", args.log_format, "--log-level", args.log_level)
        )
        await plugin.start(timeout=30)
        try:
            assert plugin.pid is not None
            target = plugin.kms_endpoint.replace("unix://", "unix:", 1)
            for _ in range(args.repeat):
                for n in counts:
                    run = await asyncio.to_thread(
                        run_load, target, plugin.pid, n, args.client_procs, args.seconds
                    )
                    runs.append(run)
        finally:
            await plugin.stop()
    return runs


def measure_echo(kind: str, args: argparse.Namespace, counts: list[int]) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="kmsb-", dir="/tmp") as tmp:
        target = f"unix:{tmp}/echo.sock"
        server = subprocess.Popen([sys.executable, __file__, "--serve-echo", kind, target])
        try:
            deadline = time.monotonic() + 30
            while not Path(f"{tmp}/echo.sock").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(args.repeat):
                runs.extend(run_load(target, server.pid, n, args.client_procs, args.seconds) for n in counts)
        finally:
            server.terminate()
            server.wait(5)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per client count (the median is reported)"
    )
    parser.add_argument("--client-procs", type=int, default=2, help="client processes sharing the callers")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--log-level", choices=("info", "warning"), default="info", help="warning: no per-call lines"
    )
    parser.add_argument("--baseline", action="store_true", help="also measure bare aio and sync echo servers")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        target, threads, seconds, start_at = args.worker
        client_worker(target, int(threads), float(seconds), float(start_at))
        return 0
    if args.serve_echo:
        echo_server(*args.serve_echo)
        return 0

    counts = [int(c) for c in args.clients.split(",")]
    load_start = os.getloadavg()
    runs = asyncio.run(measure_plugin(args, counts))
    report: dict[str, object] = {
        "benchmark": "plugin Encrypt+Decrypt, 32-byte DEK; plugin and clients in separate processes",
        "python": platform.python_version(),
        "plugin_log_level": args.log_level,
        "cpus": os.cpu_count(),
        "seconds_per_run": args.seconds,
        "load_average_at_start": [round(x, 2) for x in load_start],
        "median": medians(runs),
        "runs": runs,
    }
    if args.baseline:
        for kind in ("aio", "sync"):
            echo_runs = measure_echo(kind, args, counts)
            report[f"echo_{kind}"] = {"median": medians(echo_runs), "runs": echo_runs}
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = TARGETS
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
