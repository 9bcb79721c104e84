"""Human output of `kms-sandbox inspect`: an aligned, readable description of each value."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport


def _printable(value: bytes) -> str:
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return f"<{len(value)} bytes, not UTF-8>"
    return text if text.isprintable() else repr(text)


def report_rows(report: InspectReport, *, show_values: bool) -> list[tuple[str, str]]:
    """(label, text) rows; shared with tests so the content is checked without a terminal."""
    rows: list[tuple[str, str]] = []
    if report.etcd_key:
        rows.append(("etcd key", report.etcd_key))
    rows.append(("size", f"{report.size} bytes"))
    rows.append(("transformer", report.description))
    if report.prefix:
        rows.append(("prefix", report.prefix))
    if report.key_id is not None:
        rows.append(("key_id", repr(report.key_id)))
        rows.append(("key_id hash", report.key_id_hash or "(empty key_id)"))
    if report.dek_source_type is not None:
        rows.append(("DEK source type", f"{report.dek_source_type} ({report.dek_source_type_value})"))
    if report.encrypted_dek_source:
        digest = hashlib.sha256(report.encrypted_dek_source).hexdigest()
        rows.append(
            ("encryptedDEKSource", f"{len(report.encrypted_dek_source)} bytes, sha256 {digest[:16]}…")
        )
    for key, value in sorted(report.annotations.items()):
        rows.append(("annotation", f"{key} = {_printable(value)}"))
    layout = report.layout
    if layout is not None:
        parts = []
        if layout.info_size:
            parts.append(f"info {layout.info_size}")
        parts.append(f"nonce {layout.nonce_size}")
        parts.append(f"ciphertext {layout.ciphertext_size}")
        if layout.tag_size:
            parts.append(f"tag {layout.tag_size}")
        rows.append(("payload", f"{layout.mode}: {layout.total} bytes = " + " + ".join(parts)))
        if layout.counter is not None:
            rows.append(("nonce counter", f"{layout.counter:,} (little-endian, nonce bytes 4..11)"))
    if report.validation_error:
        rows.append(("upstream would say", report.validation_error))
    if report.plaintext_sha256 is not None:
        rows.append(("plaintext", f"{report.plaintext_len} bytes, sha256 {report.plaintext_sha256}"))
    obj = report.object
    if obj is not None:
        where = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
        rows.append(("object", f"{obj.kind} {where} ({obj.encoding})"))
        for key in obj.data_keys:
            value = obj.data.get(key, b"")
            shown = _printable(value) if show_values else f"•••• ({len(value)} bytes; --show-values to print)"
            rows.append((f"  data[{key}]", shown))
    for note in report.notes:
        rows.append(("note", note))
    return rows


def render_reports(reports: Sequence[InspectReport], *, show_values: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=False)
    for i, report in enumerate(reports):
        if i:
            console.print()
        title = "encrypted" if report.encrypted else "NOT encrypted (identity)"
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for label, text in report_rows(report, show_values=show_values):
            table.add_row(Text(label, style="bold cyan"), Text(text))
        console.print(Text(f"{report.kind} value — {title}", style="bold"))
        console.print(table)


def render_byte_maps(values: Sequence[bytes]) -> None:
    """Offsets, lengths and labels of every byte range of each KMS v2 value."""
    from rich.console import Console
    from rich.table import Table

    from sandbox.core.errors import DecodeError
    from sandbox.core.value_map import value_map

    console = Console(highlight=False)
    for value in values:
        candidates = [value, value[:-1]] if value.endswith(b"\n") else [value]
        spans = None
        for candidate in candidates:  # `etcdctl --print-value-only` appends a newline
            try:
                spans = value_map(candidate)
                break
            except DecodeError as exc:
                error = exc
        if spans is None:
            console.print(f"byte map unavailable: {error}")
            continue
        table = Table(box=None, padding=(0, 2))
        table.add_column("offset", justify="right")
        table.add_column("length", justify="right")
        table.add_column("bytes")
        table.add_column("meaning")
        for span in spans:
            chunk = value[span.start : span.end]
            shown = chunk[:8].hex() + ("…" if len(chunk) > 8 else "")
            table.add_row(str(span.start), str(span.length), shown, span.label)
        console.print()
        console.print(table)
