"""Every KMS call the plugin answered: a live table, counts per method and calls per second.

The counts are split by plugin (source) so the restart lesson's comparison reads straight off
the panel: a KMS v1 plugin answers one Decrypt per object, a v2 plugin one per DEK seed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Sparkline, Static

from sandbox.ui.model import clock_text, tail_since
from sandbox.ui.widgets.panel import Panel, fixed_table

ROWS_KEPT = 200


SHORT_CODES = {
    "DEADLINE_EXCEEDED": "DEADLINE",
    "INVALID_ARGUMENT": "INVALID_ARG",
    "FAILED_PRECONDITION": "FAILED_PREC",
    "RESOURCE_EXHAUSTED": "EXHAUSTED",
}
"""gRPC code names cut to the column (11 cells) in a way that still names the code."""


def code_text(code: str) -> Text:
    return Text(SHORT_CODES.get(code, code), style="green" if code == "OK" else "bold red")


class PluginCallsPanel(Panel):
    PANEL = "calls"
    TITLE = "Plugin calls"

    DEFAULT_CSS = """
    PluginCallsPanel > #call-counts { height: auto; max-height: 4; }
    PluginCallsPanel > Sparkline { height: 2; margin: 0 0 1 0; }
    PluginCallsPanel > DataTable { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        self._calls_seen = 0
        self._generation = self.model.generation
        yield Static("no calls yet", id="call-counts")
        yield Sparkline([0.0], summary_function=max, id="call-spark")
        columns = (
            ("time", 8),
            ("plugin", 8),
            ("method", 7),
            ("uid", 8),
            ("key_id", 14),
            ("ms", 6),
            ("code", 11),
        )
        yield fixed_table("call-table", columns)

    def refresh_view(self) -> None:
        if self._generation != self.model.generation:
            # A new backend: its counts start from zero, so must the rows.
            self._generation = self.model.generation
            self.query_one("#call-table", DataTable).clear()
            self._calls_seen = 0
        self.set_static("#call-counts", self._counts_text())
        self.query_one("#call-spark", Sparkline).data = self.model.spark_series()
        self._append_new_rows()

    def _counts_text(self) -> Text:
        counts = self.model.call_counts
        if not counts:
            return Text("no calls yet", style="dim")
        out = Text()
        by_source: dict[str, list[str]] = {}
        for (source, method), n in sorted(counts.items()):
            by_source.setdefault(source, []).append(f"{method} {n}")
        for i, (source, parts) in enumerate(by_source.items()):
            if i:
                out.append("\n")
            out.append(f"{source}: ", style="bold")
            out.append("  ".join(parts))
        return out

    def _append_new_rows(self) -> None:
        model = self.model
        new = tail_since(model.calls, model.call_total, self._calls_seen)[-ROWS_KEPT:]
        self._calls_seen = model.call_total
        if not new:
            return
        table = self.query_one("#call-table", DataTable)
        at_end = table.cursor_row >= table.row_count - 1
        for call in new:
            table.add_row(
                clock_text(call.time),
                call.source or "plugin",
                call.method,
                call.uid[:8],
                call.key_id,
                f"{call.latency_ms:.1f}",
                code_text(call.code),
            )
        overflow = table.row_count - ROWS_KEPT
        if overflow > 0:
            for row_key in list(table.rows)[:overflow]:
                table.remove_row(row_key)
        if at_end:
            table.move_cursor(row=table.row_count - 1, animate=False)
