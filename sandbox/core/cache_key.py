"""The DEK/seed cache key of the read path (kmsv2-spec.md 4.5, scenarios ENV-13/ENV-14).

sha256 over a length-prefixed (cryptobyte-style) layout, so two inputs share a key exactly when
type, encryptedDEKSource, keyID and annotations are all equal: annotations are part of the key
because a plugin may return the same ciphertext for different DEKs and carry the real wrapped
key in an annotation (ENV-13).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping

from sandbox.core.errors import ValidationError

_UINT16_MAX = 0xFFFF


def _u16_prefixed(data: bytes) -> bytes:
    if len(data) > _UINT16_MAX:
        # cryptobyte's builder fails the same way: the length does not fit the prefix.
        raise ValidationError(f"cache key component is {len(data)} bytes, over the uint16 length prefix")
    return struct.pack(">H", len(data)) + data


def cache_key_material(
    dek_source_type: int, edek: bytes, key_id: str, annotations: Mapping[str, bytes]
) -> bytes:
    """The byte string that is hashed: useful for teaching and for tests of the layout."""
    parts = [struct.pack(">I", dek_source_type), _u16_prefixed(edek), _u16_prefixed(key_id.encode())]
    if annotations:
        parts.append(struct.pack(">I", len(annotations)))
        for key in sorted(annotations):
            parts.append(_u16_prefixed(key.encode()))
            parts.append(_u16_prefixed(annotations[key]))
    return b"".join(parts)


def dek_cache_key(dek_source_type: int, edek: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
    """sha256 of `cache_key_material`: 32 bytes."""
    return hashlib.sha256(cache_key_material(dek_source_type, edek, key_id, annotations)).digest()
