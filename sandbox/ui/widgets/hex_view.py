"""A hex dump coloured by field: prefix, protobuf tags, key_id, wrapped DEK, info, nonce, ciphertext, tag.

The segments come from the pure inspector's layout, so the colours show the real structure of
the bytes in etcd rather than the widget's guess. Bytes per row follow the widget's width.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from sandbox.ui.byte_map import Segment

MAX_BYTES = 4096
"""Values bigger than this are cut: the structure is visible long before."""

FIELD_STYLES = {
    "prefix": "bold magenta",
    "protobuf": "bright_black",
    "length": "bright_black",
    "key_id": "bold yellow",
    "encrypted_dek_source": "cyan",
    "annotations": "green",
    "dek_source_type": "bold white",
    "info": "blue",
    "nonce": "bold bright_blue",
    "ciphertext": "red",
    "gcm_tag": "bold bright_red",
}
"""Segment name (see sandbox.ui.byte_map) to colour; unknown names stay plain."""


def style_for(name: str) -> str:
    return FIELD_STYLES.get(name, "")


def legend(segments: Sequence[Segment]) -> Text:
    out = Text()
    seen: list[str] = []
    for seg in segments:
        if seg.name not in seen:
            seen.append(seg.name)
    for name in seen:
        size = sum(s.end - s.start for s in segments if s.name == name)
        out.append("■ ", style=style_for(name) or "white")
        out.append(f"{name} {size}B  ")
    return out


class HexView(Widget):
    """Offset, hex bytes and printable characters, each byte styled by its field."""

    DEFAULT_CSS = """
    HexView { height: auto; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._data = b""
        self._styles: list[str] = []

    def show(self, data: bytes, segments: Sequence[Segment]) -> None:
        self._data = data[:MAX_BYTES]
        styles = [""] * len(self._data)
        for seg in segments:
            style = style_for(seg.name)
            for i in range(max(seg.start, 0), min(seg.end, len(styles))):
                styles[i] = style
        self._styles = styles
        self.refresh(layout=True)

    def bytes_per_row(self, width: int) -> int:
        # 6 columns of offset, then 3 per byte in hex and 1 per byte as a character.
        return max(4, (width - 8) // 4 // 4 * 4)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        per_row = self.bytes_per_row(width)
        return max(1, -(-len(self._data) // per_row))

    def render(self) -> Text:
        if not self._data:
            return Text("select an object to see its bytes", style="dim")
        per_row = self.bytes_per_row(self.size.width)
        out = Text(no_wrap=True, overflow="crop")
        for row_start in range(0, len(self._data), per_row):
            if row_start:
                out.append("\n")
            out.append(f"{row_start:05x} ", style="dim")
            row = range(row_start, min(row_start + per_row, len(self._data)))
            for i in row:
                out.append(f" {self._data[i]:02x}", style=self._styles[i])
            out.append(" " * (3 * (per_row - len(row)) + 2))
            for i in row:
                char = chr(self._data[i])
                out.append(char if 32 <= self._data[i] < 127 else "·", style=self._styles[i])
        return out
