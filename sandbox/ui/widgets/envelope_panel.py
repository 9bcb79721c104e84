"""What sits in etcd: every object with the key_id it is stored under, and one value taken apart.

The object list says at a glance which objects still sit under an old KEK (stale against the
current write key_id). The selected value is described by the pure inspector and drawn as
decoded fields plus a hex dump coloured by field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from sandbox.ui.model import StoredObject
from sandbox.ui.widgets.hex_view import HexView, Segment, legend
from sandbox.ui.widgets.panel import Panel

SHORT_TYPES = {"AES_GCM_KEY": "DEK", "HKDF_SHA256_XNONCE_AES_GCM_SEED": "SEED"}


def short_key(etcd_key: str, prefix: str = "/registry/") -> str:
    return etcd_key[len(prefix) :] if etcd_key.startswith(prefix) else etcd_key


def report_segments(report: Any) -> list[Segment]:
    """The inspector's layout as hex-view segments: (name, start, end) or (name, offset, length)."""
    layout = getattr(report, "layout", None) or ()
    if isinstance(layout, Mapping):
        layout = [(name, *span) for name, span in layout.items()]
    segments: list[Segment] = []
    for part in layout:
        if isinstance(part, tuple):
            name, start, end = part[0], part[1], part[2]
        else:
            name = getattr(part, "name", "")
            start = getattr(part, "start", getattr(part, "offset", 0))
            end = getattr(part, "end", start + getattr(part, "length", getattr(part, "size", 0)))
        segments.append(Segment(str(name), int(start), int(end)))
    return segments


def report_text(key: str, report: Any, current_key_id: str) -> Text:
    out = Text()
    out.append(f"{key}\n", style="bold")
    rows: Iterable[tuple[str, Any]] = (
        ("prefix", getattr(report, "prefix", "")),
        ("provider", getattr(report, "provider", "")),
        ("key_id", getattr(report, "key_id", "")),
        ("DEK source", getattr(report, "dek_source_type", "")),
    )
    for label, value in rows:
        if value in ("", None):
            continue
        out.append(f"{label:>11} ", style="dim")
        out.append(str(value))
        if label == "key_id" and current_key_id and value != current_key_id:
            out.append(f"  STALE (current {current_key_id})", style="bold yellow")
        out.append("\n")
    annotations = getattr(report, "annotations", None) or {}
    for name, value in dict(annotations).items():
        shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        out.append(f"{'annotation':>11} ", style="dim")
        out.append(f"{name} = {shown[:60]}\n")
    for problem in getattr(report, "problems", ()) or ():
        out.append(f"{'problem':>11} {problem}\n", style="red")
    out.rstrip()
    return out


class EnvelopePanel(Panel):
    PANEL = "envelope"
    TITLE = "Envelope: objects in etcd"

    DEFAULT_CSS = """
    EnvelopePanel > #object-summary { height: 1; }
    EnvelopePanel > #object-table { height: 1fr; min-height: 5; }
    EnvelopePanel > VerticalScroll { height: 2fr; }
    EnvelopePanel #envelope-fields { height: auto; }
    EnvelopePanel #hex-legend { height: auto; margin: 1 0 0 0; }
    """

    class ObjectSelected(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def compose_body(self) -> ComposeResult:
        self._rows: dict[str, tuple[str, ...]] = {}
        yield Static("", id="object-summary")
        table: DataTable[str | Text] = DataTable(id="object-table", cursor_type="row", zebra_stripes=True)
        table.add_column("object", key="object")
        table.add_column("key_id", key="key_id")
        table.add_column("type", key="type")
        table.add_column("bytes", key="bytes")
        table.add_column("stale", key="stale")
        yield table
        with VerticalScroll(id="envelope-detail"):
            yield Static("", id="envelope-fields")
            yield Static("", id="hex-legend")
            yield HexView(id="hex-view")

    def refresh_view(self) -> None:
        model = self.model
        current = model.current_key_id()
        self._sync_rows(model.objects, current)
        stale = sum(1 for row in self._rows.values() if row[4])
        summary = Text(f"{len(self._rows)} objects", style="bold")
        summary.append(f"  current write key_id: {current or '-'}")
        if stale:
            summary.append(f"  {stale} stale", style="bold yellow")
        self.query_one("#object-summary", Static).update(summary)
        self._draw_selected(current)

    def _sync_rows(self, objects: Mapping[str, StoredObject], current: str) -> None:
        table = self.query_one("#object-table", DataTable)
        for gone in [k for k in self._rows if k not in objects]:
            table.remove_row(gone)
            del self._rows[gone]
        for key, obj in objects.items():
            stale = "STALE" if obj.key_id and current and obj.key_id != current else ""
            row = (
                short_key(key),
                obj.key_id or "-",
                SHORT_TYPES.get(obj.dek_source_type, obj.dek_source_type or "-"),
                str(obj.size),
                stale,
            )
            old = self._rows.get(key)
            if old == row:
                continue
            if old is None:
                table.add_row(*row[:4], Text(stale, style="bold yellow"), key=key)
            else:
                for column, (before, after) in zip(
                    ("object", "key_id", "type", "bytes"), zip(old, row, strict=False), strict=False
                ):
                    if before != after:
                        table.update_cell(key, column, after)
                if old[4] != stale:
                    table.update_cell(key, "stale", Text(stale, style="bold yellow"))
            self._rows[key] = row

    def _draw_selected(self, current: str) -> None:
        model = self.model
        fields = self.query_one("#envelope-fields", Static)
        if not model.selected_key:
            fields.update(Text("select an object to take its etcd value apart", style="dim"))
            return
        if model.selected_error:
            fields.update(Text(f"{model.selected_key}\n{model.selected_error}", style="red"))
            return
        if model.selected_report is None or model.selected_raw is None:
            return
        fields.update(report_text(model.selected_key, model.selected_report, current))
        segments = report_segments(model.selected_report)
        self.query_one("#hex-legend", Static).update(legend(segments))
        self.query_one("#hex-view", HexView).show(model.selected_raw, segments)

    @on(DataTable.RowHighlighted, "#object-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key and key != self.model.selected_key:
            self.post_message(self.ObjectSelected(key))
