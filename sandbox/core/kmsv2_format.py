"""The KMS v2 etcd value: `k8s:enc:kms:v2:<provider>:` + protobuf `EncryptedObject` (spec 3.1-3.3).

The protobuf wrapper and the prefix are *not* authenticated; only `encryptedData` is. Encoding is
deterministic (fields in number order 1..5, map entries sorted by key, field 5 omitted for
AES_GCM_KEY) so that a value parsed and re-serialised is byte-identical to what Go wrote for
single-annotation objects, and stable for tests otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sandbox._proto.storage.v2 import encrypted_object_pb2
from sandbox.core.errors import DecodeError, ValidationError
from sandbox.core.validation import validate_annotations, validate_encrypted_dek_source, validate_key_id

PREFIX = "k8s:enc:kms:v2:"
PREFIX_BYTES = PREFIX.encode()
AES_GCM_KEY = 0
HKDF_SHA256_XNONCE_AES_GCM_SEED = 1
DEK_SOURCE_TYPE_NAMES: Mapping[int, str] = MappingProxyType(
    {AES_GCM_KEY: "AES_GCM_KEY", HKDF_SHA256_XNONCE_AES_GCM_SEED: "HKDF_SHA256_XNONCE_AES_GCM_SEED"}
)


def _frozen_map(m: Mapping[str, bytes]) -> Mapping[str, bytes]:
    return MappingProxyType(dict(m))


@dataclass(frozen=True)
class EncryptedObject:
    """The decoded protobuf; field names follow the wire names in snake_case."""

    encrypted_data: bytes
    """Payload ciphertext: `nonce||ct||tag`, or `info||nonce||ct||tag` in seed mode."""
    key_id: str
    """The plugin's key_id from its EncryptResponse: public, logged, hashed in metrics."""
    encrypted_dek_source: bytes
    """The plugin's wrapped DEK (type 0) or seed (type 1); called `encryptedDEK` before 1.28."""
    annotations: Mapping[str, bytes] = field(default_factory=dict)
    """Plugin annotations, stored in plaintext."""
    dek_source_type: int = AES_GCM_KEY
    """0 = AES_GCM_KEY, 1 = HKDF_SHA256_XNONCE_AES_GCM_SEED; absent on the wire when 0."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))

    def __hash__(self) -> int:
        return hash(
            (
                self.encrypted_data,
                self.key_id,
                self.encrypted_dek_source,
                tuple(sorted(self.annotations.items())),
                self.dek_source_type,
            )
        )

    @property
    def dek_source_type_name(self) -> str:
        return DEK_SOURCE_TYPE_NAMES.get(self.dek_source_type, f"UNKNOWN({self.dek_source_type})")


def provider_prefix(name: str) -> bytes:
    """`k8s:enc:kms:v2:<name>:` as bytes."""
    return f"{PREFIX}{name}:".encode()


def encode_encrypted_object(obj: EncryptedObject) -> bytes:
    msg = encrypted_object_pb2.EncryptedObject(
        encryptedData=obj.encrypted_data,
        keyID=obj.key_id,
        encryptedDEKSource=obj.encrypted_dek_source,
        annotations=dict(obj.annotations),
        encryptedDEKSourceType=obj.dek_source_type,  # type: ignore[arg-type]
    )
    return msg.SerializeToString(deterministic=True)


def decode_encrypted_object(data: bytes) -> EncryptedObject:
    """Parse the protobuf; any malformed input raises `DecodeError` (never anything else)."""
    try:
        msg = encrypted_object_pb2.EncryptedObject.FromString(bytes(data))
        return EncryptedObject(
            encrypted_data=bytes(msg.encryptedData),
            key_id=str(msg.keyID),
            encrypted_dek_source=bytes(msg.encryptedDEKSource),
            annotations={str(k): bytes(v) for k, v in msg.annotations.items()},
            dek_source_type=int(msg.encryptedDEKSourceType),
        )
    except Exception as exc:  # the protobuf runtime raises several types on garbage
        raise DecodeError(f"invalid EncryptedObject protobuf: {exc}") from None


def encode_value(provider: str, obj: EncryptedObject) -> bytes:
    """The complete etcd value: prefix + protobuf."""
    return provider_prefix(provider) + encode_encrypted_object(obj)


def split_value(value: bytes) -> tuple[str, bytes]:
    """Split a v2 value into (provider name, protobuf bytes)."""
    if not value.startswith(PREFIX_BYTES):
        raise DecodeError(f"value does not start with the KMS v2 prefix {PREFIX!r}")
    rest = value[len(PREFIX_BYTES) :]
    end = rest.find(b":")
    if end < 0:
        raise DecodeError(f"KMS v2 prefix has no ':' after the provider name (expected {PREFIX}<name>:)")
    try:
        name = rest[:end].decode()
    except UnicodeDecodeError:
        raise DecodeError("KMS v2 provider name is not valid UTF-8") from None
    return name, rest[end + 1 :]


def decode_value(value: bytes) -> tuple[str, EncryptedObject]:
    name, payload = split_value(value)
    return name, decode_encrypted_object(payload)


def validate_encrypted_object(obj: EncryptedObject | None, *, strict: bool = True) -> None:
    """ValidateEncryptedObject: nil, type, data, encryptedDEKSource, keyID, annotations."""
    if obj is None:
        raise ValidationError("encrypted object is nil")
    if obj.dek_source_type not in DEK_SOURCE_TYPE_NAMES:
        raise ValidationError(f"unknown encryptedDEKSourceType: {obj.dek_source_type}")
    if not obj.encrypted_data:
        raise ValidationError("encrypted data is empty")
    try:
        validate_encrypted_dek_source(obj.encrypted_dek_source, strict=strict)
    except ValidationError as exc:
        raise ValidationError(f"failed to validate encrypted DEK source: {exc}") from None
    try:
        validate_key_id(obj.key_id, strict=strict)
    except ValidationError as exc:
        raise ValidationError(f"failed to validate key id: {exc}") from None
    try:
        validate_annotations(obj.annotations, strict=strict)
    except ValidationError as exc:
        raise ValidationError(f"failed to validate annotations: {exc}") from None
