"""TUI speed: time to first frame, and input latency while 10,000 secrets are written.

    .venv/bin/python bench/tui_startup.py [--runs 3] [--secrets 10000]

First frame: `kms-sandbox` is started in a pseudo-terminal (as a person starts it) with
KMS_SANDBOX_READY_FILE set; the app appends the Unix time of its first painted frame there. The
figure is that time minus the moment just before the process was spawned, so it includes the
interpreter start and every import. The app is then quit with `q`, and the bench checks that it
exited (and so stopped its plugin).

Input latency: the app runs in this process (headless) on the real simulator and plugin. While
it writes the secrets, a key press is posted every 50 ms; a bench-only binding records when the
app handled it. Latency = handled - posted. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent


def first_frame_once(timeout: float = 30.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kmsx-bench-") as tmp:
        ready = Path(tmp) / "ready"
        env = dict(
            os.environ, KMS_SANDBOX_READY_FILE=str(ready), TERM="xterm-256color", COLUMNS="120", LINES="40"
        )
        master, slave = pty.openpty()
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        try:
            frame_at = 0.0
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not frame_at:
                # Drain the terminal output so the app never blocks writing its frame.
                readable, _, _ = select.select([master], [], [], 0.02)
                if readable:
                    try:
                        os.read(master, 65536)
                    except OSError:
                        break
                if ready.exists() and ready.read_text().strip():
                    frame_at = float(ready.read_text().split()[0])
            time.sleep(1.0)  # let the backend start, so quitting also stops a running plugin
            os.write(master, b"q")
            quit_sent = time.monotonic()
            while proc.poll() is None and time.monotonic() - quit_sent < 20:
                readable, _, _ = select.select([master], [], [], 0.05)
                if readable:
                    try:
                        os.read(master, 65536)
                    except OSError:
                        pass
            exit_s = time.monotonic() - quit_sent
            code = proc.poll()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        if not frame_at:
            raise SystemExit("the app never signalled its first frame")
        return {
            "first_frame_s": frame_at - started,
            "quit_s": exit_s,
            "exit_code": float(code if code is not None else -1),
        }


async def input_latency(secrets: int) -> dict[str, Any]:
    from textual import events
    from textual.binding import Binding, BindingType

    from sandbox.ui.app import SandboxApp

    handled: list[float] = []

    class BenchApp(SandboxApp):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("f12", "ping", "ping", show=False)]

        def action_ping(self) -> None:
            handled.append(time.perf_counter())

    app = BenchApp("sim", clock_speed=0.0)
    latencies: list[float] = []
    async with app.run_test(size=(200, 60)) as pilot:
        while not app.session.running:
            await asyncio.sleep(0.05)
        await pilot.pause(0.5)
        started = time.perf_counter()
        app.action_create(secrets)
        while len(app.model.objects) < secrets and time.perf_counter() - started < 600:
            sent = time.perf_counter()
            before = len(handled)
            app.post_message(events.Key("f12", None))
            while len(handled) == before and time.perf_counter() - sent < 5:
                await asyncio.sleep(0.001)
            if len(handled) > before:
                latencies.append(handled[-1] - sent)
            await asyncio.sleep(0.05)
        written_s = time.perf_counter() - started
        while app.model.written_keys and time.perf_counter() - started < 600:
            await asyncio.sleep(0.05)
        settled_s = time.perf_counter() - started
        rows = app.query_one("#object-table").row_count  # type: ignore[attr-defined]
    latencies.sort()
    return {
        "secrets": secrets,
        "write_s": round(written_s, 2),
        "object_list_settled_s": round(settled_s, 2),
        "object_rows": rows,
        "key_presses": len(latencies),
        "input_latency_ms_p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "input_latency_ms_p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1)
        if latencies
        else None,
        "input_latency_ms_max": round(1000 * latencies[-1], 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--secrets", type=int, default=10_000)
    args = parser.parse_args()
    frames = [first_frame_once() for _ in range(args.runs)]
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "first_frame_s": [round(f["first_frame_s"], 3) for f in frames],
        "first_frame_s_median": round(statistics.median(f["first_frame_s"] for f in frames), 3),
        "quit_s": [round(f["quit_s"], 2) for f in frames],
        "exit_codes": [int(f["exit_code"]) for f in frames],
    }
    result.update(asyncio.run(input_latency(args.secrets)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
