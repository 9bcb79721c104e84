"""`kms-sandbox ui` rejects bad input with one line and exit code 2, before importing Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.cli.main import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ui", "--backend", "minikube"], "unknown backend 'minikube': expected one of sim, local, kind"),
        (["--backend", "nope"], "unknown backend 'nope'"),
        (
            ["ui", "--kube-version", "v1.34.0"],
            "bad --kube-version 'v1.34.0': expected a release such as 1.34",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_without_a_terminal_it_says_so_instead_of_drawing() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "ui"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert out.returncode == 1
    assert "the UI needs a terminal" in out.stderr and "Traceback" not in out.stderr
