"""The recorded v1.27.0 etcd value decodes and decrypts with the core alone (spec 3.9)."""

from __future__ import annotations

import hashlib

from sandbox._proto.storage.v2 import encrypted_object_pb2
from sandbox.core import aead, kmsv2_format
from tests.core.vectors import load_legacy_vector


def test_vector_decodes_to_expected_fields() -> None:
    vec = load_legacy_vector()
    value = bytes.fromhex(vec["value_hex"])
    name, obj = kmsv2_format.decode_value(value)
    expected = vec["expected"]
    assert name == vec["provider_name"]
    assert obj.key_id == expected["key_id"]
    assert obj.dek_source_type == expected["encrypted_dek_source_type"]
    assert {k: v.decode() for k, v in obj.annotations.items()} == expected["annotations"]
    assert aead.counter_from_nonce(obj.encrypted_data[:12]) == expected["nonce_counter"]
    kmsv2_format.validate_encrypted_object(obj)
    # The generated message class agrees with the core's decoder.
    msg = encrypted_object_pb2.EncryptedObject.FromString(kmsv2_format.split_value(value)[1])
    assert msg.keyID == obj.key_id and msg.encryptedData == obj.encrypted_data


def test_vector_decrypts_to_expected_digest() -> None:
    vec = load_legacy_vector()
    _, obj = kmsv2_format.decode_value(bytes.fromhex(vec["value_hex"]))
    import base64

    dek = base64.b64decode(obj.encrypted_dek_source)  # the Base64Plugin's "encryption"
    assert dek.hex() == vec["dek_hex"]
    plaintext = aead.gcm_decrypt(dek, obj.encrypted_data, vec["etcd_key"].encode())
    assert len(plaintext) == vec["expected"]["plaintext_len"]
    assert hashlib.sha256(plaintext).hexdigest() == vec["expected"]["plaintext_sha256"]
    assert plaintext.startswith(bytes.fromhex(vec["expected"]["plaintext_prefix_hex"]))


def test_vector_reencodes_byte_identically() -> None:
    vec = load_legacy_vector()
    value = bytes.fromhex(vec["value_hex"])
    name, obj = kmsv2_format.decode_value(value)
    assert kmsv2_format.encode_value(name, obj) == value
