"""Go's status error text, which the apiserver embeds in its own messages."""

from __future__ import annotations

import pytest

from sandbox.core.rpc_errors import (
    GRPC_CODE_NAMES,
    UnknownCodeError,
    format_rpc_error,
    go_code_name,
    grpc_code_name,
)


@pytest.mark.parametrize(
    ("grpc_name", "go_name"),
    [
        ("OK", "OK"),
        ("CANCELLED", "Canceled"),
        ("DEADLINE_EXCEEDED", "DeadlineExceeded"),
        ("INVALID_ARGUMENT", "InvalidArgument"),
        ("FAILED_PRECONDITION", "FailedPrecondition"),
        ("UNAVAILABLE", "Unavailable"),
        ("NOT_FOUND", "NotFound"),
        ("DATA_LOSS", "DataLoss"),
        ("StatusCode.INTERNAL", "Internal"),
    ],
)
def test_go_names(grpc_name: str, go_name: str) -> None:
    assert go_code_name(grpc_name) == go_name
    assert go_code_name(go_name) == go_name  # idempotent
    assert grpc_code_name(go_name) == grpc_name.rsplit(".", 1)[-1]


def test_every_code_round_trips() -> None:
    assert len(GRPC_CODE_NAMES) == 17
    for name in GRPC_CODE_NAMES:
        assert grpc_code_name(go_code_name(name)) == name
    assert grpc_code_name("deadlineexceeded") == "DEADLINE_EXCEEDED"


def test_format_matches_go() -> None:
    text = format_rpc_error("DeadlineExceeded", "context deadline exceeded")
    assert text == "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    assert (
        format_rpc_error(go_code_name("FAILED_PRECONDITION"), "failed precondition - key disabled")
        == "rpc error: code = FailedPrecondition desc = failed precondition - key disabled"
    )


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(UnknownCodeError, match="unknown gRPC status code 'BOGUS'; expected one of OK"):
        go_code_name("BOGUS")
    with pytest.raises(UnknownCodeError):
        grpc_code_name("Nope")
