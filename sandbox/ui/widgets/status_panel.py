"""The apiserver's side of KMS health: its Status probes, its verdict and its write key.

During an outage the interesting number is how long the current write DEK/seed still serves
writes (3 minutes after the last good Status); it counts down here against the run's clock.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from sandbox.ui.model import clock_text, tail_since
from sandbox.ui.widgets.panel import Panel, fixed_table

PROBE_ROWS = 100


def ok_text(ok: bool, yes: str = "ok", no: str = "FAIL") -> Text:
    return Text(yes, style="green") if ok else Text(no, style="bold red")


GRPC_CODE = re.compile(r"code = (\w+)")


def short_error(error: str) -> str:
    """A failed probe's cause for a narrow cell: the gRPC code when the call failed, else the text.

    A failed call reads "failed to perform status section of the healthz check for KMS Provider
    ..., error: rpc error: code = Unavailable desc = ..."; its start says nothing in 20 cells.
    The summary above the table shows the health check's full text.
    """
    match = GRPC_CODE.search(error)
    return match.group(1) if match else (error[:80] or "FAIL")


def probe_count_text(total: int, rows: int, cached: int) -> Text:
    """How many Status calls the table below holds, and the health checks that made none."""
    out = Text(style="dim")
    out.append(f"{total} Status probe{'s' if total != 1 else ''}")
    if rows < total:
        out.append(f", last {rows} below")
    elif total:
        out.append(" below")
    if cached:
        out.append(f" · {cached} health check{'s' if cached != 1 else ''} served from cache")
    return out


class StatusPanel(Panel):
    PANEL = "status"
    TITLE = "Status probes & write key"

    DEFAULT_CSS = """
    StatusPanel > #status-summary { height: auto; }
    StatusPanel > DataTable { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        self._probes_seen = 0
        self._generation = self.model.generation
        yield Static("", id="status-summary")
        columns = (
            ("time", 8),
            ("apiserver", 11),
            ("healthz", 7),
            ("version", 7),
            ("key_id", 14),
            ("result", 15),  # a gRPC code, or the start of the reason; the summary has it all
        )
        yield fixed_table("probe-table", columns)

    def refresh_view(self) -> None:
        if self._generation != self.model.generation:
            self._generation = self.model.generation
            self.query_one("#probe-table", DataTable).clear()
            self._probes_seen = 0
        self._append_probes()
        self.set_static("#status-summary", self._summary())

    def _summary(self) -> Text:
        model = self.model
        out = Text()
        out.append("backend ", style="dim")
        out.append(f"{model.backend_name or '?'} ", style="bold")
        state_style = {"running": "green", "failed": "bold red"}.get(model.backend_state, "yellow")
        out.append(model.backend_state, style=state_style)
        out.append(f"   clock {clock_text(model.now)}\n", style="dim")
        for check, change in sorted(model.health_checks.items()):
            out.append(f"{check} ")
            out.append_text(ok_text(change.ok, "ok", "failing"))
            if change.text and not change.ok:
                out.append(f"  {change.text[:120]}", style="red")
            out.append("\n")
        if model.probes or model.cached_probes:
            out.append(probe_count_text(model.probe_total, self._table_rows(), model.cached_probes))
            out.append("\n")
        if not model.write_keys:
            out.append("write key: none yet (writes fail with 'unexpected nil transformer')", style="yellow")
        for (source, provider), key in sorted(model.write_keys.items()):
            out.append(f"{source or 'apiserver'} {provider}: ", style="bold")
            out.append(f"key_id {key.key_id or '-'} ")
            if key.dek_source_type:
                out.append(f"{key.dek_source_type} ", style="dim")
            remaining = key.expires_at - model.now
            if key.expires_at and remaining <= 0:
                out.append("EXPIRED: writes fail", style="bold red")
            elif key.expires_at:
                style = "green" if remaining > 120 else "bold yellow"
                out.append(f"expires in {int(remaining) // 60}:{int(remaining) % 60:02d}", style=style)
            if key.error:
                out.append(f"\n  last rotation failed: {key.error[:120]}", style="red")
            out.append("\n")
        out.rstrip()
        return out

    def _table_rows(self) -> int:
        return self.query_one("#probe-table", DataTable).row_count

    def _append_probes(self) -> None:
        model = self.model
        new = tail_since(model.probes, model.probe_total, self._probes_seen)[-PROBE_ROWS:]
        self._probes_seen = model.probe_total
        if not new:
            return
        table = self.query_one("#probe-table", DataTable)
        for probe in new:
            result = ok_text(probe.ok, "cached" if probe.cached else "ok", short_error(probe.error))
            table.add_row(
                clock_text(probe.time),
                probe.source or "apiserver",
                probe.healthz or "-",
                probe.version or "-",
                probe.key_id or "-",
                result,
            )
        overflow = table.row_count - PROBE_ROWS
        for row_key in list(table.rows)[: max(overflow, 0)]:
            table.remove_row(row_key)
        table.move_cursor(row=table.row_count - 1, animate=False)
