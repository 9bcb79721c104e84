"""The scenario envelope view over the core inspector, and the write prefix from a config."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from sandbox.core import kmsv1_format, kmsv2_format, local_providers
from sandbox.scenarios.envelopes import first_provider_prefix, view_value
from sandbox.scenarios.expectations import is_stale

key_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
names = st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)


@given(
    name=names,
    key_id=key_ids,
    source=st.binary(min_size=1, max_size=64),
    data=st.binary(min_size=30, max_size=100),
    seed_mode=st.booleans(),
)
def test_a_kms_v2_envelope_shows_its_metadata(
    name: str, key_id: str, source: bytes, data: bytes, seed_mode: bool
) -> None:
    dek_type = kmsv2_format.HKDF_SHA256_XNONCE_AES_GCM_SEED if seed_mode else kmsv2_format.AES_GCM_KEY
    obj = kmsv2_format.EncryptedObject(data, key_id, source, {"a.example.com": b"1"}, dek_type)
    value = kmsv2_format.encode_value(name, obj)
    view = view_value(value)
    assert view.present and view.encrypted and not view.error and not view.invalid
    assert (view.prefix, view.provider_type, view.provider) == (f"k8s:enc:kms:v2:{name}:", "kms-v2", name)
    assert view.key_id == key_id and view.dek_source_type == obj.dek_source_type_name
    assert view.dek_source_hash == hashlib.sha256(source).hexdigest()[:16]
    assert view.size == len(value)
    assert f"key_id={key_id}" in view.summary()


@given(st.binary(max_size=200))
def test_any_bytes_give_a_view_and_never_raise(value: bytes) -> None:
    view = view_value(value)
    assert view.present and view.size == len(value)
    assert view.encrypted == value.startswith(b"k8s:enc:")
    assert view.summary()


def test_other_transformers_plaintext_and_absent_values() -> None:
    v1 = view_value(kmsv1_format.encode_v1_value("old", b"wrapped-dek", b"n" * 12 + b"payload" + b"t" * 16))
    assert (v1.provider_type, v1.prefix, v1.provider) == ("kms-v1", "k8s:enc:kms:v1:old:", "old")
    assert not v1.key_id
    assert v1.dek_source_hash == hashlib.sha256(b"wrapped-dek").hexdigest()[:16]
    local = view_value(local_providers.provider_prefix("aescbc", "key1") + b"\x00" * 32)
    assert (local.provider_type, local.provider) == ("aescbc", "key1")
    assert local.prefix == "k8s:enc:aescbc:v1:key1:"
    plain = view_value(b"k8s\x00protobuf")
    assert not plain.encrypted and plain.provider_type == "identity"
    assert plain.summary().startswith("plaintext")
    assert view_value(None).summary() == "absent"
    unknown = view_value(b"k8s:enc:rot13:v1:k:abc")
    assert unknown.provider_type == "unknown" and unknown.error


def test_a_damaged_or_invalid_kms_v2_value_says_what_is_wrong() -> None:
    damaged = view_value(b"k8s:enc:kms:v2:p:\xff\xff\xff")
    assert damaged.provider_type == "kms-v2" and damaged.provider == "p" and damaged.error
    assert "undecodable" in damaged.summary()
    bad = kmsv2_format.EncryptedObject(b"x" * 40, "k", b"edek", {"kms.example.io/auditid": b"42"})
    invalid = view_value(kmsv2_format.encode_value("p", bad))
    assert not invalid.error and "failed to validate annotations" in invalid.invalid


CONFIG = """
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: new, endpoint: $PLUGIN_ENDPOINT, timeout: 3s}
      - kms: {name: old, endpoint: $PLUGIN_ENDPOINT_1}
  - resources: ["*."]
    providers:
      - aescbc: {keys: [{name: k1, secret: c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluaw==}]}
  - resources: ["*.*"]
    providers:
      - identity: {}
"""


def test_the_write_prefix_follows_the_first_provider_of_the_best_rule() -> None:
    assert first_provider_prefix(CONFIG, "secrets") == "k8s:enc:kms:v2:new:"
    assert first_provider_prefix(CONFIG, "configmaps") == "k8s:enc:aescbc:v1:k1:"
    only_secrets = CONFIG.split('  - resources: ["*."]')[0]
    assert first_provider_prefix(only_secrets, "configmaps") == ""  # unmatched: identity
    assert first_provider_prefix("", "secrets") is None
    assert first_provider_prefix("not: [a, config", "secrets") is None


def test_staleness_is_another_prefix_or_another_key_id() -> None:
    obj = kmsv2_format.EncryptedObject(b"x" * 40, "kek-1", b"edek", {}, 1)
    view = view_value(kmsv2_format.encode_value("new", obj))
    assert not is_stale(view, "kek-1", "k8s:enc:kms:v2:new:")
    assert is_stale(view, "kek-2", "k8s:enc:kms:v2:new:")
    assert is_stale(view, "kek-1", "")
    assert not is_stale(view, "kek-1", None)
