"""Storage encoding of Secrets and ConfigMaps, checked against the real apiserver-written vector."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from sandbox.core import aead, k8s_objects, kmsv2_format
from sandbox.core.errors import DecodeError, ValidationError
from tests.core.vectors import load_legacy_vector


def vector_plaintext() -> bytes:
    vec = load_legacy_vector()
    _, obj = kmsv2_format.decode_value(bytes.fromhex(vec["value_hex"]))
    return aead.gcm_decrypt(bytes.fromhex(vec["dek_hex"]), obj.encrypted_data, vec["etcd_key"].encode())


def test_decode_real_secret() -> None:
    obj = k8s_objects.decode_object(vector_plaintext())
    assert (obj.kind, obj.api_version, obj.namespace, obj.name) == (
        "Secret",
        "v1",
        "kms-v2-legacy-data",
        "dek-source-aes-gcm-key",
    )
    assert obj.type == "Opaque"
    assert dict(obj.data) == {"api_key": b"086a7ffc-0225-11e8-ba89-0ed5f89f718b"}
    assert obj.uid == "1f4a8f7b-01b4-49d1-b898-751eb56937f1"
    assert obj.resource_version == ""
    assert obj.immutable is None
    assert k8s_objects.etcd_key(obj) == "/registry/secrets/kms-v2-legacy-data/dek-source-aes-gcm-key"


def test_reencode_real_secret_is_byte_identical() -> None:
    plaintext = vector_plaintext()
    assert k8s_objects.encode_object(k8s_objects.decode_object(plaintext)) == plaintext


def test_fresh_secret_has_the_apiserver_shape() -> None:
    """A secret built from scratch equals the vector's bytes minus its managedFields (field 17)."""
    plaintext = vector_plaintext()
    decoded = k8s_objects.decode_object(plaintext)
    fresh = k8s_objects.encode_object(dataclasses.replace(decoded, preserved=b""))
    assert fresh.startswith(b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12")
    # contentEncoding and contentType are present and empty, as Go writes them.
    assert fresh.endswith(b'\x1a\x06Opaque\x1a\x00"\x00')
    # Same header fields as the real object up to creationTimestamp.
    head = b'\n\x16dek-source-aes-gcm-key\x12\x00\x1a\x12kms-v2-legacy-data"\x00*$'
    assert head in fresh and head in plaintext
    assert b"\x8a\x01" not in fresh  # no managedFields invented


def test_edit_preserves_unmodelled_fields() -> None:
    decoded = k8s_objects.decode_object(vector_plaintext())
    edited = dataclasses.replace(decoded, data={"api_key": b"new", "other": b"x"})
    again = k8s_objects.decode_object(k8s_objects.encode_object(edited))
    assert dict(again.data) == {"api_key": b"new", "other": b"x"}
    assert b"FieldsV1" in k8s_objects.encode_object(edited)


def test_configmap_round_trip() -> None:
    cm = k8s_objects.StoredObject(
        kind="ConfigMap",
        namespace="default",
        name="cfg",
        uid="u-1",
        creation_timestamp=1_700_000_000,
        data={"a": b"1"},
        binary_data={"b": b"\x00\xff"},
        labels={"app": "x"},
        immutable=True,
    )
    raw = k8s_objects.encode_object(cm)
    assert raw.startswith(b"k8s\x00")
    assert k8s_objects.decode_object(raw) == cm
    assert k8s_objects.etcd_key(cm, "/custom/") == "/custom/configmaps/default/cfg"


def test_configmap_data_must_be_utf8() -> None:
    cm = k8s_objects.StoredObject(kind="ConfigMap", namespace="d", name="c", data={"a": b"\xff"})
    with pytest.raises(ValidationError):
        k8s_objects.encode_object(cm)


def test_json_crd_objects() -> None:
    doc = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {
            "name": "ct",
            "namespace": "ns",
            "uid": "u",
            "creationTimestamp": "2024-01-02T03:04:05Z",
        },
        "spec": {"cronSpec": "* * * * */5"},
    }
    obj = k8s_objects.decode_object(json.dumps(doc).encode() + b"\n")
    assert (obj.kind, obj.namespace, obj.name, obj.encoding) == ("CronTab", "ns", "ct", "json")
    assert obj.creation_timestamp == 1704164645
    again = json.loads(k8s_objects.encode_object(obj))
    assert again["spec"] == doc["spec"]
    assert again["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"


def test_json_secret_data_is_base64() -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aGk="}}
    obj = k8s_objects.decode_object(json.dumps(doc).encode())
    assert dict(obj.data) == {"k": b"hi"}


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"hello",
        b"k8s\x00\xff\xff",
        b"k8s\x00",
        b"{not json",
        b"[1,2]",
        b'{"metadata": 3}',
        b"k8s\x00\n\x00",
    ],
)
def test_garbage_raises_decode_error(garbage: bytes) -> None:
    with pytest.raises(DecodeError):
        k8s_objects.decode_object(garbage)


def test_other_protobuf_kinds_keep_metadata() -> None:
    from sandbox._proto.k8s import objects_pb2

    meta = objects_pb2.ObjectMeta(name="p", namespace="n", uid="u")
    raw = b"\x0a" + bytes([len(meta.SerializeToString())]) + meta.SerializeToString() + b"\x12\x00"
    unknown = objects_pb2.Unknown(typeMeta=objects_pb2.TypeMeta(apiVersion="v1", kind="Pod"), raw=raw)
    data = b"k8s\x00" + unknown.SerializeToString()
    obj = k8s_objects.decode_object(data)
    assert (obj.kind, obj.name, obj.namespace, obj.resource) == ("Pod", "p", "n", "pods")
    assert (
        hashlib.sha256(k8s_objects.encode_object(obj)).digest()
        == hashlib.sha256(
            b"k8s\x00"
            + objects_pb2.Unknown(
                typeMeta=objects_pb2.TypeMeta(apiVersion="v1", kind="Pod"),
                raw=raw,
                contentEncoding="",
                contentType="",
            ).SerializeToString()
        ).digest()
    )
