"""The KMS v1 etcd value, for contrast and v1 -> v2 migration (kmsv2-spec.md 3.10).

`k8s:enc:kms:v1:<name>:` + uint16 big-endian length of the wrapped DEK + wrapped DEK + data,
where data is AES-GCM `nonce(12)||ct||tag` under a fresh 32-byte DEK per write (pre-1.25 data
used AES-CBC under the same prefix).
"""

from __future__ import annotations

import struct

from sandbox.core.errors import DecodeError, ValidationError

PREFIX = "k8s:enc:kms:v1:"
PREFIX_BYTES = PREFIX.encode()
_UINT16_MAX = 0xFFFF


def provider_prefix(name: str) -> bytes:
    return f"{PREFIX}{name}:".encode()


def encode_v1_value(provider: str, encrypted_dek: bytes, data: bytes) -> bytes:
    if len(encrypted_dek) > _UINT16_MAX:
        raise ValidationError(
            f"encrypted DEK is {len(encrypted_dek)} bytes; the v1 format holds at most 65535"
        )
    return provider_prefix(provider) + struct.pack(">H", len(encrypted_dek)) + encrypted_dek + data


def split_v1_value(value: bytes) -> tuple[str, bytes, bytes]:
    """(provider name, wrapped DEK, AES-GCM data); DecodeError on anything malformed."""
    if not value.startswith(PREFIX_BYTES):
        raise DecodeError(f"value does not start with the KMS v1 prefix {PREFIX!r}")
    rest = value[len(PREFIX_BYTES) :]
    end = rest.find(b":")
    if end < 0:
        raise DecodeError(f"KMS v1 prefix has no ':' after the provider name (expected {PREFIX}<name>:)")
    try:
        name = rest[:end].decode()
    except UnicodeDecodeError:
        raise DecodeError("KMS v1 provider name is not valid UTF-8") from None
    body = rest[end + 1 :]
    if len(body) < 2:
        raise DecodeError("KMS v1 value is too short to hold the 2-byte encrypted DEK length")
    (edek_len,) = struct.unpack(">H", body[:2])
    if len(body) < 2 + edek_len:
        raise DecodeError(
            f"KMS v1 value declares a {edek_len}-byte encrypted DEK but has {len(body) - 2} bytes"
        )
    return name, body[2 : 2 + edek_len], body[2 + edek_len :]
