"""gRPC status codes as Go prints them, so simulated messages read like the real apiserver's.

The apiserver embeds its plugin client's errors verbatim, e.g. `failed to decrypt DEK, error:
rpc error: code = DeadlineExceeded desc = context deadline exceeded`. That text comes from
grpc-go's `status.Error` (`rpc error: code = %s desc = %s`) where the code is printed with
`codes.Code.String()`: CamelCase names, not the upper-snake names of the gRPC spec that Python
uses. This module converts between the two and formats the Go text. Pure: no grpc import.
"""

from __future__ import annotations

# Canonical gRPC code name (as grpcio's StatusCode.<NAME>.name) -> Go's codes.Code.String().
# Note Go spells CANCELLED with one "l".
_GO_NAMES: dict[str, str] = {
    "OK": "OK",
    "CANCELLED": "Canceled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}
_GRPC_NAMES: dict[str, str] = {go: grpc_name for grpc_name, go in _GO_NAMES.items()}

GRPC_CODE_NAMES: tuple[str, ...] = tuple(_GO_NAMES)
"""Every canonical gRPC code name, in numeric order (OK = 0 ... UNAUTHENTICATED = 16)."""

DEADLINE_EXCEEDED_DESC = "context deadline exceeded"
"""What Go prints as the description when a call's context deadline fires."""


class UnknownCodeError(ValueError):
    """The name is neither a gRPC code name nor a Go code name."""


def _normalise(name: str) -> str:
    # Accept "StatusCode.DEADLINE_EXCEEDED" (str() of a grpcio enum) and any letter case.
    return name.strip().rsplit(".", 1)[-1]


def go_code_name(grpc_code_name: str) -> str:
    """ "DEADLINE_EXCEEDED" -> "DeadlineExceeded". Go names pass through unchanged."""
    name = _normalise(grpc_code_name)
    upper = name.upper()
    if upper in _GO_NAMES:
        return _GO_NAMES[upper]
    if name in _GRPC_NAMES:
        return name
    raise UnknownCodeError(
        f"unknown gRPC status code {grpc_code_name!r}; expected one of {', '.join(GRPC_CODE_NAMES)}"
    )


def grpc_code_name(name: str) -> str:
    """ "DeadlineExceeded", "deadline_exceeded" or "DEADLINE_EXCEEDED" -> "DEADLINE_EXCEEDED"."""
    plain = _normalise(name)
    if plain in _GRPC_NAMES:
        return _GRPC_NAMES[plain]
    if plain.upper() in _GO_NAMES:
        return plain.upper()
    lowered = {go.lower(): grpc for go, grpc in _GRPC_NAMES.items()}
    if plain.lower() in lowered:
        return lowered[plain.lower()]
    raise UnknownCodeError(f"unknown gRPC status code {name!r}; expected one of {', '.join(GRPC_CODE_NAMES)}")


def format_rpc_error(code_go_name: str, desc: str) -> str:
    """Go's status error text: `rpc error: code = DeadlineExceeded desc = context deadline exceeded`."""
    return f"rpc error: code = {code_go_name} desc = {desc}"
