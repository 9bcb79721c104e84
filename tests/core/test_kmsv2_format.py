"""EncryptedObject encoding, prefixes and ValidateEncryptedObject: ENV-5, ENV-6."""

from __future__ import annotations

import pytest

from sandbox.core import kmsv2_format as f
from sandbox.core.errors import DecodeError, ValidationError

GOOD = f.EncryptedObject(
    encrypted_data=b"data", key_id="1", encrypted_dek_source=b"edek", annotations={"a.com": b"v"}
)


def test_env5_encode_decode_round_trip() -> None:
    for obj in (GOOD, f.EncryptedObject(b"d", "k", b"e", {}, f.HKDF_SHA256_XNONCE_AES_GCM_SEED)):
        assert f.decode_encrypted_object(f.encode_encrypted_object(obj)) == obj


def test_field_order_and_omitted_zero_type() -> None:
    raw = f.encode_encrypted_object(f.EncryptedObject(b"D", "K", b"E", {"b.io": b"2", "a.io": b"1"}))
    # 1 encryptedData, 2 keyID, 3 encryptedDEKSource, 4 annotations sorted by key, no field 5.
    assert raw == bytes.fromhex(
        "0a014412014b1a01452209" + "0a04612e696f120131" + "2209" + "0a04622e696f120132"
    )
    seeded = f.encode_encrypted_object(f.EncryptedObject(b"D", "K", b"E", {}, 1))
    assert seeded.endswith(b"\x28\x01")


def test_prefix_and_split() -> None:
    value = f.encode_value("my-kms", GOOD)
    assert value.startswith(b"k8s:enc:kms:v2:my-kms:")
    assert f.provider_prefix("my-kms") == b"k8s:enc:kms:v2:my-kms:"
    name, payload = f.split_value(value)
    assert name == "my-kms"
    assert f.decode_encrypted_object(payload) == GOOD
    assert f.decode_value(value) == ("my-kms", GOOD)


@pytest.mark.parametrize(
    "value", [b"", b"k8s:enc:kms:v1:x:abc", b"k8s:enc:kms:v2:no-colon", b"k8s:enc:kms:v2:\xff\xfe:x"]
)
def test_split_rejects_non_v2_values(value: bytes) -> None:
    with pytest.raises(DecodeError):
        f.split_value(value)


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x12\x02\xff\xfe", b"\x08"])
def test_decode_garbage_raises_decode_error(garbage: bytes) -> None:
    with pytest.raises(DecodeError):
        f.decode_encrypted_object(garbage)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (None, "encrypted object is nil"),
        (f.EncryptedObject(b"", "1", b"e"), "encrypted data is empty"),
        (f.EncryptedObject(b"d", "1", b"e", {}, 55), "unknown encryptedDEKSourceType: 55"),
        # The type is checked before the data: an empty object with a bad type reports the type.
        (f.EncryptedObject(b"", "", b"", {}, 55), "unknown encryptedDEKSourceType: 55"),
        (
            f.EncryptedObject(b"d", "1", b""),
            "failed to validate encrypted DEK source: encrypted DEK source is empty",
        ),
        (
            f.EncryptedObject(b"d", "", b""),
            "failed to validate encrypted DEK source: encrypted DEK source is empty",
        ),
        (f.EncryptedObject(b"d", "", b"e"), "failed to validate key id: keyID is empty"),
        (
            f.EncryptedObject(b"d", "1", bytes(1025)),
            "failed to validate encrypted DEK source: encrypted DEK source is 1025 bytes, "
            "which exceeds the max size of 1024",
        ),
        (
            f.EncryptedObject(b"d", "k" * 1025, b"e"),
            "failed to validate key id: keyID is 1025 bytes, which exceeds the max size of 1024",
        ),
        (
            f.EncryptedObject(b"d", "1", b"e", {"@": b""}),
            'failed to validate annotations: annotations: Invalid value: "@": a lowercase RFC 1123 subdomain '
            "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            f.EncryptedObject(b"d", "1", b"e", {"invalid": b""}),
            'failed to validate annotations: annotations: Invalid value: "invalid": '
            "should be a domain with at least two segments separated by dots",
        ),
    ],
)
def test_env6_validate_encrypted_object(obj: f.EncryptedObject | None, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        f.validate_encrypted_object(obj)
    assert str(exc.value) == message


def test_valid_objects_pass() -> None:
    f.validate_encrypted_object(GOOD)
    f.validate_encrypted_object(f.EncryptedObject(b"d", "1", b"e", {}, 1))


def test_lenient_validation_for_1_25() -> None:
    f.validate_encrypted_object(f.EncryptedObject(b"d", "k" * 2000, bytes(2000), {"x": b""}), strict=False)


def test_type_names() -> None:
    assert f.DEK_SOURCE_TYPE_NAMES[0] == "AES_GCM_KEY"
    assert f.DEK_SOURCE_TYPE_NAMES[1] == "HKDF_SHA256_XNONCE_AES_GCM_SEED"
    assert f.EncryptedObject(b"d", "1", b"e", {}, 7).dek_source_type_name == "UNKNOWN(7)"


def test_object_is_immutable_and_hashable() -> None:
    src = {"a.com": b"v"}
    obj = f.EncryptedObject(b"d", "1", b"e", src)
    src["b.com"] = b"w"
    assert dict(obj.annotations) == {"a.com": b"v"}
    assert hash(obj) == hash(f.EncryptedObject(b"d", "1", b"e", {"a.com": b"v"}))
