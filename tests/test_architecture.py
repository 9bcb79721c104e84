"""The layering is enforced by import-linter in CI; these checks also run with plain pytest.

Each module of the pure core is imported in a fresh interpreter, and we assert that nothing
with I/O or UI weight came along: the core must stay usable from anywhere (a notebook, the
inspector, a test) without dragging in grpc, textual or asyncio.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import sandbox.core

FORBIDDEN_IN_CORE = ("grpc", "textual", "rich", "kubernetes", "asyncio", "socket", "subprocess")


def core_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(sandbox.core.__path__, "sandbox.core.")]


def test_core_imports_nothing_with_io_or_ui() -> None:
    modules = core_modules()
    assert "sandbox.core.events" in modules
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN_IN_CORE!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "", f"the core pulled in: {out.stdout.strip()}"


def test_only_the_ui_imports_textual() -> None:
    import pathlib

    root = pathlib.Path(sandbox.core.__file__).parent.parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in ("ui", "_proto"):
            continue
        text = path.read_text()
        if "import textual" in text or "from textual" in text:
            offenders.append(str(rel))
    assert offenders == []
