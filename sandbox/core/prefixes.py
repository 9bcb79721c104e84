"""Which transformer wrote an etcd value, judged from its prefix alone (spec 3.1, 4.7).

Values without a `k8s:enc:` prefix were written by the identity provider (plaintext). The
prefix is not authenticated: this tells you what the value *claims* to be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sandbox.core import kmsv1_format, kmsv2_format

ENCRYPTED_MARK = b"k8s:enc:"
"""Identity refuses values starting with this: `identity transformer tried to read encrypted data`."""

PrefixKind = Literal["kms-v2", "kms-v1", "aescbc", "aesgcm", "secretbox", "identity", "unknown"]

_KNOWN: tuple[tuple[str, PrefixKind], ...] = (
    (kmsv2_format.PREFIX, "kms-v2"),
    (kmsv1_format.PREFIX, "kms-v1"),
    ("k8s:enc:aescbc:v1:", "aescbc"),
    ("k8s:enc:aesgcm:v1:", "aesgcm"),
    ("k8s:enc:secretbox:v1:", "secretbox"),
)

DESCRIPTIONS: dict[str, str] = {
    "kms-v2": "KMS v2 envelope: protobuf EncryptedObject, DEK or seed wrapped by an external plugin",
    "kms-v1": "KMS v1 envelope: 2-byte EDEK length, EDEK, AES-GCM data (fresh DEK per write)",
    "aescbc": "aescbc: AES-CBC with PKCS#7 padding, key from the config file, not authenticated",
    "aesgcm": "aesgcm: AES-GCM with a random nonce, key from the config file, AAD = etcd key",
    "secretbox": "secretbox: XSalsa20-Poly1305, 32-byte key from the config file",
    "identity": "identity: stored in plaintext",
    "unknown": "an encrypted prefix of an unknown transformer",
}


@dataclass(frozen=True)
class PrefixInfo:
    kind: PrefixKind
    prefix: str
    """The full prefix including the name and trailing ':' ("" for identity)."""
    name: str
    """KMS provider name, or key name for the local providers ("" for identity)."""

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


def describe_prefix(value: bytes) -> PrefixInfo:
    """Classify a stored value by prefix; never raises."""
    for head, kind in _KNOWN:
        head_b = head.encode()
        if value.startswith(head_b):
            rest = value[len(head_b) :]
            end = rest.find(b":")
            if end < 0:
                return PrefixInfo(kind, head, "")
            name = rest[:end].decode("utf-8", "replace")
            return PrefixInfo(kind, f"{head}{name}:", name)
    if value.startswith(ENCRYPTED_MARK):
        # Unknown transformer: report up to the next ':' after "k8s:enc:<type>:".
        parts = value.split(b":", 4)
        shown = b":".join(parts[:4]) + b":" if len(parts) > 4 else value[: len(ENCRYPTED_MARK)]
        return PrefixInfo("unknown", shown.decode("utf-8", "replace"), "")
    return PrefixInfo("identity", "", "")


NO_MATCHING_PREFIX = "no matching prefix found"
"""The error kube-apiserver configures for resources when no provider's prefix matches."""
NO_MATCH_DEFAULT = "the provided value does not match any of the supported transformers"
"""The storage library's default text for the same situation."""
IDENTITY_REFUSES = "identity transformer tried to read encrypted data"


def read_candidates(value: bytes, prefixes: Sequence[str]) -> list[int]:
    """Indexes of the providers (by write prefix, "" = identity) a read tries, in config order.

    Every provider whose prefix matches is a candidate, and a failure of one does not stop the
    next (spec 4.7). Identity matches everything except values carrying `k8s:enc:`, which it
    refuses. A read served by any index but 0 is stale; an empty list means `no matching prefix
    found`.
    """
    out = []
    for i, prefix in enumerate(prefixes):
        if prefix == "":
            if not value.startswith(ENCRYPTED_MARK):
                out.append(i)
        elif value.startswith(prefix.encode()):
            out.append(i)
    return out
