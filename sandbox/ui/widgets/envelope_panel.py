"""What sits in etcd: every object with the key_id it is stored under, and one value taken apart.

The object list says at a glance which objects still sit under an old KEK (stale against the
current write key_id). The selected value is described by the pure inspector and drawn as
decoded fields plus a hex dump coloured by field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from sandbox.ui.byte_map import value_segments
from sandbox.ui.model import StoredObject, shorten_hashes
from sandbox.ui.widgets.hex_view import HexView, legend
from sandbox.ui.widgets.panel import Panel, fixed_table

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport

MAX_ROWS = 500
"""Rows listed; thousands of rows would only cost redraws, and the summary counts them all."""
SHORT_TYPES = {"AES_GCM_KEY": "DEK", "HKDF_SHA256_XNONCE_AES_GCM_SEED": "SEED"}


def short_key(etcd_key: str, prefix: str = "/registry/") -> str:
    return etcd_key[len(prefix) :] if etcd_key.startswith(prefix) else etcd_key


def report_text(key: str, report: InspectReport, current_key_id: str) -> Text:
    out = Text()
    out.append(f"{key}\n", style="bold")

    def row(label: str, value: object, style: str = "") -> None:
        out.append(f"{label:>12} ", style="dim")
        out.append(str(value), style=style)
        out.append("\n")

    row("stored as", report.kind)
    if report.prefix:
        row("prefix", report.prefix, "magenta")
    if report.key_id is not None:
        stale = current_key_id and report.key_id != current_key_id
        out.append(f"{'key_id':>12} ", style="dim")
        out.append(report.key_id, style="bold yellow")
        out.append(f"  ({shorten_hashes(report.key_id_hash)})", style="dim")
        if stale:
            out.append(f"  STALE: current is {current_key_id}", style="bold reverse yellow")
        out.append("\n")
    if report.dek_source_type:
        row("DEK source", f"{report.dek_source_type} ({len(report.encrypted_dek_source)} B wrapped)", "cyan")
    for name, value in sorted(report.annotations.items()):
        row("annotation", f"{name} = {value.decode('utf-8', 'replace')[:60]}", "green")
    layout = report.layout
    if layout is not None:
        sizes = f"info {layout.info_size} · nonce {layout.nonce_size} · ciphertext {layout.ciphertext_size}"
        row("payload", f"{sizes} · tag {layout.tag_size} = {layout.total} B")
        if layout.counter is not None:
            row("nonce count", f"{layout.counter:,}")
    row("total", f"{report.size} B")
    if report.validation_error:
        row("invalid", report.validation_error, "bold red")
    for note in report.notes:
        if not note.startswith("payload not decrypted"):  # always so here: the UI holds no DEKs
            row("note", note, "italic")
    out.rstrip()
    return out


class EnvelopePanel(Panel):
    PANEL = "envelope"
    TITLE = "Envelope: objects in etcd"

    DEFAULT_CSS = """
    EnvelopePanel > #object-summary { height: auto; max-height: 2; }
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
        self._generation = self.model.generation
        yield Static("", id="object-summary")
        columns = (("object", 32), ("key_id", 14), ("type", 4), ("bytes", 5), ("stale", 5))
        yield fixed_table("object-table", columns)
        with VerticalScroll(id="envelope-detail"):
            yield Static("", id="envelope-fields")
            yield Static("", id="hex-legend")
            yield HexView(id="hex-view")

    def refresh_view(self) -> None:
        model = self.model
        current = model.current_key_id()
        if self._generation != model.generation:
            # A new backend has a new etcd: none of the listed objects exist there.
            self._generation = model.generation
            self.query_one("#object-table", DataTable).clear()
            self._rows = {}
            self._synced_key_id: str | None = None
        if model.changed_objects or current != getattr(self, "_synced_key_id", None):
            self._sync_rows(model.objects, current)
            self.set_static("#object-summary", self._summary(current))
        self._draw_selected(current)

    def _summary(self, current: str) -> Text:
        """Objects per key_id: which KEKs data still sits under, at any scale."""
        by_key = Counter(obj.key_id or "-" for obj in self.model.objects.values())
        summary = Text(f"{len(self.model.objects):,} objects", style="bold")
        if len(self.model.objects) > len(self._rows):
            summary.append(f" (first {len(self._rows):,} listed)", style="dim")
        for key_id, count in by_key.most_common(4):
            stale = bool(current) and key_id not in (current, "-")
            summary.append(f"  {key_id}: {count:,}", style="bold yellow" if stale else "green")
            if stale:
                summary.append(" stale", style="bold yellow")
        return summary

    def _sync_rows(self, objects: Mapping[str, StoredObject], current: str) -> None:
        """Adds, updates and removes rows; only the changed keys unless the write key moved."""
        table = self.query_one("#object-table", DataTable)
        changed, self.model.changed_objects = self.model.changed_objects, set()
        if current != getattr(self, "_synced_key_id", None) or not self._rows:
            self._synced_key_id = current
            changed = set(objects) | set(self._rows)  # every stale flag may have flipped
        for gone in [k for k in changed if k in self._rows and k not in objects]:
            table.remove_row(gone)
            del self._rows[gone]
        for key in sorted(k for k in changed if k in objects):
            if key not in self._rows and len(self._rows) >= MAX_ROWS:
                continue  # the summary line counts the rest
            obj = objects[key]
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
        shown = (model.selected_key, model.selected_raw, model.selected_error, current)
        if shown == getattr(self, "_shown_selection", None):
            return  # unchanged: skip the hex view's layout pass
        self._shown_selection = shown
        fields = self.query_one("#envelope-fields", Static)
        if not model.selected_key:
            fields.update(Text("select an object to take its etcd value apart", style="dim"))
            self.set_static("#hex-legend", "")
            self.query_one("#hex-view", HexView).show(b"", [])
            return
        if model.selected_error:
            fields.update(Text(f"{model.selected_key}\n{model.selected_error}", style="red"))
            return
        if model.selected_report is None or model.selected_raw is None:
            return
        fields.update(report_text(model.selected_key, model.selected_report, current))
        segments = value_segments(model.selected_raw, model.selected_report)
        self.set_static("#hex-legend", legend(segments))
        self.query_one("#hex-view", HexView).show(model.selected_raw, segments)

    @on(DataTable.RowHighlighted, "#object-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key and key != self.model.selected_key:
            self.post_message(self.ObjectSelected(key))
