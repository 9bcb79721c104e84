"""An optional Prometheus text endpoint on loopback: calls, latency histogram, current key_id.

A tiny HTTP/1.0 responder on the plugin's own asyncio loop, so reading the counters needs no
lock and no thread, and no dependency beyond the standard library.
"""

from __future__ import annotations

import asyncio
import contextlib

from sandbox.kms.service import LATENCY_BUCKETS_S, PluginService

PREFIX = "kms_sandbox_plugin"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(service: PluginService) -> str:
    lines = [
        f"# HELP {PREFIX}_calls_total KMS calls answered, by method and gRPC code.",
        f"# TYPE {PREFIX}_calls_total counter",
    ]
    for (method, code), count in sorted(service.counters.items()):
        lines.append(f'{PREFIX}_calls_total{{method="{_label(method)}",code="{code}"}} {count}')
    lines += [
        f"# HELP {PREFIX}_call_duration_seconds Time to answer a KMS call, faults included.",
        f"# TYPE {PREFIX}_call_duration_seconds histogram",
    ]
    for method, hist in sorted(service.histograms.items()):
        for bound, count in zip(LATENCY_BUCKETS_S, hist.cumulative(), strict=True):
            lines.append(f'{PREFIX}_call_duration_seconds_bucket{{method="{method}",le="{bound}"}} {count}')
        lines.append(f'{PREFIX}_call_duration_seconds_bucket{{method="{method}",le="+Inf"}} {hist.count}')
        lines.append(f'{PREFIX}_call_duration_seconds_sum{{method="{method}"}} {hist.total:.6f}')
        lines.append(f'{PREFIX}_call_duration_seconds_count{{method="{method}"}} {hist.count}')
    lines += [
        f"# HELP {PREFIX}_current_key_info The KEK Status reports as current (key ids are public).",
        f"# TYPE {PREFIX}_current_key_info gauge",
        f'{PREFIX}_current_key_info{{key_id="{_label(service.keyring.current_id)}"}} 1',
        f"# HELP {PREFIX}_keys KEKs in the keyring.",
        f"# TYPE {PREFIX}_keys gauge",
        f"{PREFIX}_keys {len(service.keyring.keks)}",
    ]
    return "\n".join(lines) + "\n"


async def start_metrics_server(service: PluginService, port: int, host: str = "127.0.0.1") -> asyncio.Server:
    """Serves GET /metrics; port 0 picks a free port (see `server.sockets[0].getsockname()`)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are irrelevant
            parts = request.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] in ("/metrics", "/"):
                status, body = "200 OK", render_metrics(service).encode()
            else:
                status, body = "404 Not Found", b"not found; try GET /metrics\n"
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port)
