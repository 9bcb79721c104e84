"""The pure inspector: reports for every prefix kind, decryption paths, and input parsing."""

from __future__ import annotations

import base64
import json

import pytest

from sandbox.core import aead, k8s_objects, kmsv2_format, local_providers
from sandbox.core.errors import DecodeError, DecryptError, ValidationError
from sandbox.core.inspect import inspect_value, parse_input
from tests.core.vectors import load_legacy_vector

KEY = "/registry/secrets/default/s1"
SEED = bytes(range(32))


def secret_bytes() -> bytes:
    obj = k8s_objects.StoredObject(
        kind="Secret", namespace="default", name="s1", data={"password": b"hunter2"}
    )
    return k8s_objects.encode_object(obj)


def seed_value(annotations: dict[str, bytes] | None = None) -> bytes:
    data = aead.ExtendedNonceGCM(SEED).encrypt(secret_bytes(), KEY.encode())
    obj = kmsv2_format.EncryptedObject(data, "key-1", b"wrapped-seed", annotations or {}, 1)
    return kmsv2_format.encode_value("my-kms", obj)


def test_vector_report() -> None:
    vec = load_legacy_vector()
    report = inspect_value(
        bytes.fromhex(vec["value_hex"]), etcd_key=vec["etcd_key"], dek_or_seed=bytes.fromhex(vec["dek_hex"])
    )
    d = report.to_json_dict()
    assert d["prefix"] == "k8s:enc:kms:v2:kms-provider:"
    assert d["provider"] == "kms-provider"
    assert d["key_id"] == "1"
    assert d["dek_source_type"] == "AES_GCM_KEY"
    assert d["annotations"] == {
        "local-kek.kms.kubernetes.io": base64.b64encode(b"encrypted-local-kek").decode()
    }
    assert d["layout"]["counter"] == vec["expected"]["nonce_counter"]
    assert (d["layout"]["nonce"], d["layout"]["ciphertext"], d["layout"]["tag"]) == (12, 366, 16)
    assert d["plaintext_sha256"] == vec["expected"]["plaintext_sha256"]
    assert d["object"] == {
        "kind": "Secret",
        "namespace": "kms-v2-legacy-data",
        "name": "dek-source-aes-gcm-key",
        "data_keys": ["api_key"],
        "encoding": "protobuf",
    }
    assert "086a7ffc" not in json.dumps(d)  # values masked by default
    shown = report.to_json_dict(show_values=True)["object"]["data"]
    assert base64.b64decode(shown["api_key"]) == b"086a7ffc-0225-11e8-ba89-0ed5f89f718b"


def test_seed_mode_report_and_decrypt() -> None:
    report = inspect_value(seed_value(), etcd_key=KEY, dek_or_seed=SEED)
    assert report.dek_source_type == "HKDF_SHA256_XNONCE_AES_GCM_SEED"
    assert report.layout is not None
    assert (report.layout.info_size, report.layout.nonce_size, report.layout.tag_size) == (32, 12, 16)
    assert report.layout.counter is None
    assert report.object is not None and report.object.data_keys == ("password",)
    assert report.validation_error is None


def test_without_key_reports_structure_and_a_note() -> None:
    report = inspect_value(seed_value())
    assert report.plaintext_sha256 is None and report.object is None
    assert any("not decrypted" in n for n in report.notes)


@pytest.mark.parametrize(("etcd_key", "dek"), [("/registry/secrets/default/other", SEED), (KEY, bytes(32))])
def test_wrong_key_or_aad_fails_clearly(etcd_key: str, dek: bytes) -> None:
    with pytest.raises(DecryptError) as exc:
        inspect_value(seed_value(), etcd_key=etcd_key, dek_or_seed=dek)
    assert "cipher: message authentication failed" in str(exc.value)
    assert "etcd key" in str(exc.value)


def test_missing_etcd_key_when_decrypting() -> None:
    with pytest.raises(ValidationError, match="etcd key is needed"):
        inspect_value(seed_value(), dek_or_seed=SEED)


def test_short_seed_is_a_decrypt_error() -> None:
    with pytest.raises(DecryptError, match="invalid seed length 5 used for key generation"):
        inspect_value(seed_value(), etcd_key=KEY, dek_or_seed=b"12345")


def test_invalid_object_is_reported_not_raised() -> None:
    report = inspect_value(seed_value({"com": b"x"}))
    assert report.validation_error == (
        'got invalid EncryptedObject: failed to validate annotations: annotations: Invalid value: "com": '
        "should be a domain with at least two segments separated by dots"
    )


def test_identity_value_is_decoded() -> None:
    report = inspect_value(secret_bytes())
    assert report.kind == "identity" and not report.encrypted
    assert report.object is not None and report.object.name == "s1"
    garbage = inspect_value(b"just some bytes")
    assert garbage.object is None and garbage.notes


@pytest.mark.parametrize("provider", local_providers.LOCAL_PROVIDERS)
def test_local_providers(provider: str) -> None:
    value = local_providers.encrypt_value(provider, "k1", SEED, secret_bytes(), KEY.encode())
    report = inspect_value(value, etcd_key=KEY, dek_or_seed=SEED)
    assert (report.kind, report.provider, report.prefix) == (provider, "k1", f"k8s:enc:{provider}:v1:k1:")
    assert report.object is not None and report.object.kind == "Secret"


def test_kms_v1_value() -> None:
    from sandbox.core import kmsv1_format

    dek = bytes(range(32))
    value = kmsv1_format.encode_v1_value(
        "old", b"wrapped", aead.random_nonce_gcm_encrypt(dek, secret_bytes(), KEY.encode())
    )
    report = inspect_value(value, etcd_key=KEY, dek_or_seed=dek)
    assert (report.kind, report.provider, report.encrypted_dek_source) == ("kms-v1", "old", b"wrapped")
    assert report.object is not None


@pytest.mark.parametrize(
    "value", [b"k8s:enc:kms:v2:p:\xff\xff", b"k8s:enc:kms:v2:nocolon", b"k8s:enc:kms:v1:p:\x00"]
)
def test_malformed_values_raise_decode_error(value: bytes) -> None:
    with pytest.raises(DecodeError):
        inspect_value(value)


# --- parse_input ----------------------------------------------------------------------------


def test_parse_formats() -> None:
    value = seed_value()
    assert parse_input(value) == [(None, value)]
    assert parse_input(value.hex() + "\n") == [(None, value)]
    assert parse_input(base64.b64encode(value)) == [(None, value)]
    assert parse_input(value, "raw") == [(None, value)]
    assert parse_input(value.hex().upper(), "hex") == [(None, value)]
    assert parse_input(base64.b64encode(value).decode(), "base64") == [(None, value)]


def test_parse_etcdctl_json() -> None:
    value = seed_value()
    doc = {
        "header": {"cluster_id": 1, "revision": 7},
        "kvs": [
            {
                "key": base64.b64encode(KEY.encode()).decode(),
                "value": base64.b64encode(value).decode(),
                "version": 1,
            }
        ],
        "count": 1,
    }
    text = json.dumps(doc)
    assert parse_input(text) == [(KEY, value)]
    assert parse_input(text, "etcdctl-json") == [(KEY, value)]
    with pytest.raises(DecodeError, match="key was not found"):
        parse_input(json.dumps({"header": {}, "count": 0}))


def test_json_crd_value_is_raw_in_auto_mode() -> None:
    crd = b'{"apiVersion":"a/v1","kind":"X","metadata":{"name":"n"}}\n'
    assert parse_input(crd) == [(None, crd)]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("abc", "hex"), ("zz", "hex"), ("***", "base64"), ("[1]", "etcdctl-json"), ("x", "bogus")],
)
def test_parse_errors(text: str, fmt: str) -> None:
    with pytest.raises(DecodeError):
        parse_input(text, fmt)


def test_counter_notes() -> None:
    def value_with(data: bytes) -> bytes:
        return kmsv2_format.encode_value("p", kmsv2_format.EncryptedObject(data, "1", b"e"))

    counter_written = aead.CounterNonceGCM(SEED).encrypt(b"x", b"k")
    assert not any("nonce" in n for n in inspect_value(value_with(counter_written)).notes)
    random_written = aead.random_nonce_gcm_encrypt(SEED, b"x", b"k")
    random_written = random_written[:4] + b"\xff" * 8 + random_written[12:]
    assert any("1.25/1.26" in n for n in inspect_value(value_with(random_written)).notes)
    low = aead.CounterNonceGCM(SEED, counter=0).encrypt(b"x", b"k")
    assert any("not above 1,000,000,000" in n for n in inspect_value(value_with(low)).notes)
