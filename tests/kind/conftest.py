"""Fake `kind`, `docker` and `kubectl` executables on PATH, recording every call.

The fakes are real executables (a shell wrapper around fakes/fake_tool.py run by this
interpreter), so the code under test starts real subprocesses exactly as it would with the
real tools; only the answers come from the fake's state directory.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FAKE_TOOL = Path(__file__).parent / "fakes" / "fake_tool.py"


@dataclass
class FakeTools:
    bin_dir: Path
    state: Path
    log: Path
    env: dict[str, str]

    def calls(self, tool: str | None = None) -> list[list[str]]:
        """argv of every call so far (optionally of one tool), in order."""
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [[e["tool"], *e["argv"]] for e in entries if tool is None or e["tool"] == tool]

    def stdin_of(self, predicate: Any) -> list[str]:
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [e["stdin"] for e in entries if predicate([e["tool"], *e["argv"]])]

    def clusters(self) -> dict[str, Any]:
        path = self.state / "clusters.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def put_etcd(self, key: str, value: bytes) -> None:
        import base64

        path = self.state / "etcd.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data[key] = base64.b64encode(value).decode()
        path.write_text(json.dumps(data))

    def without(self, *tools: str) -> None:
        for tool in tools:
            (self.bin_dir / tool).unlink()

    def apply(self) -> None:
        """Put these fakes into os.environ (for in-process code); monkeypatch undoes it."""
        os.environ.update(self.env)


def install_fakes(root: Path, tools: tuple[str, ...] = ("kind", "docker", "kubectl")) -> FakeTools:
    bin_dir, state = root / "bin", root / "state"
    bin_dir.mkdir(parents=True)
    state.mkdir()
    for tool in tools:
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_TOOL}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    log = root / "calls.jsonl"
    env = {
        # Only the fakes and the basic system tools: a real docker/kind must never be reached.
        "PATH": f"{bin_dir}:/bin:/usr/bin",
        "FAKE_TOOLS_STATE": str(state),
        "FAKE_TOOLS_LOG": str(log),
    }
    return FakeTools(bin_dir, state, log, env)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTools]:
    tools = install_fakes(tmp_path / "fakes")
    for key, value in tools.env.items():
        monkeypatch.setenv(key, value)
    for knob in ("FAKE_DOCKER_DOWN", "FAKE_DOCKER_DESKTOP", "FAKE_KIND_VERSION", "FAKE_KIND_CREATE_FAIL"):
        monkeypatch.delenv(knob, raising=False)
    yield tools
