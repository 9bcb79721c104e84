"""The exceptions of the pure core.

Every failure the core reports is a `SandboxError`, so callers (the simulator, the inspector, the
CLI) can catch one type and print its message, which is the upstream Go text wherever upstream
has one: the simulator surfaces these strings to learners exactly as kube-apiserver would.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error raised by `sandbox.core`."""


class DecodeError(SandboxError):
    """Input bytes are truncated, garbage or of the wrong format.

    This is the only exception the value parsers raise on arbitrary bytes: a property test feeds
    them random input and checks exactly that.
    """


class ValidationError(SandboxError):
    """A decoded value or plugin response breaks an upstream rule; the message is upstream's."""


class DecryptError(SandboxError):
    """Authentication failed or the stored data is too short to be a ciphertext.

    Messages are upstream's: `cipher: message authentication failed`,
    `the stored data was shorter than the required size`, ...
    """


class NonceOverflowError(SandboxError):
    """The 64-bit nonce counter wrapped: upstream kills the process with this message."""


class ConfigError(SandboxError):
    """An EncryptionConfiguration failed to load or validate; the message is upstream's.

    `field_errors` holds the individual validation errors when the message aggregates several.
    """

    def __init__(self, message: str, field_errors: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field_errors = tuple(field_errors) or (message,)
