"""aescbc, aesgcm and secretbox value formats, and prefix classification (PFX-level facts)."""

from __future__ import annotations

import pytest

from sandbox.core import kmsv1_format, kmsv2_format
from sandbox.core import local_providers as lp
from sandbox.core.errors import DecodeError, DecryptError
from sandbox.core.prefixes import describe_prefix

K16 = b"abcdefghijklmnop"
K32 = K16 * 2


@pytest.mark.parametrize("provider", lp.LOCAL_PROVIDERS)
def test_round_trip_with_prefix(provider: str) -> None:
    value = lp.encrypt_value(provider, "key1", K32, b"payload", b"/registry/secrets/ns/a")
    assert value.startswith(f"k8s:enc:{provider}:v1:key1:".encode())
    assert lp.split_local_value(value)[:2] == (provider, "key1")
    assert lp.decrypt_value(K32, value, b"/registry/secrets/ns/a") == b"payload"


def test_aescbc_layout_and_no_authentication() -> None:
    data = lp.aescbc_encrypt(K16, b"firstvalue")
    assert len(data) == 16 + 16  # IV + one padded block
    # CBC carries no AAD: a value copied to another key still decrypts (upstream relies on it).
    assert lp.aescbc_decrypt(K16, data, b"incorrect_context") == b"firstvalue"


def test_aescbc_errors() -> None:
    with pytest.raises(DecryptError, match=r"^the stored data was shorter than the required size$"):
        lp.aescbc_decrypt(K16, b"short")
    with pytest.raises(DecryptError, match=r"^the stored data is not a multiple of the block size$"):
        lp.aescbc_decrypt(K16, bytes(16 + 5))
    with pytest.raises(DecryptError, match=r"^invalid PKCS7 data \(empty or not padded\)$"):
        lp.aescbc_decrypt(K16, bytes(16))
    # A wrong key yields garbage padding almost always; try a few values to hit each branch.
    errors = set()
    for i in range(64):
        data = lp.aescbc_encrypt(K16, bytes([i]) * 20)
        try:
            lp.aescbc_decrypt(b"x" * 16, data)
        except DecryptError as exc:
            errors.add(str(exc))
    assert errors <= {"invalid PKCS7 data (empty or not padded)", "invalid padding on input"}
    assert errors


def test_aesgcm_binds_the_etcd_key() -> None:
    data = lp.aesgcm_encrypt(K32, b"v", b"/registry/secrets/a/b")
    with pytest.raises(DecryptError, match=r"^cipher: message authentication failed$"):
        lp.aesgcm_decrypt(K32, data, b"/registry/secrets/a/c")


def test_secretbox_layout_and_errors() -> None:
    data = lp.secretbox_encrypt(K32, b"hello")
    assert len(data) == 24 + 16 + 5
    assert lp.secretbox_decrypt(K32, data) == b"hello"
    with pytest.raises(DecryptError, match=r"^the stored data was shorter than the required size$"):
        lp.secretbox_decrypt(K32, bytes(39))
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(DecryptError, match=r"^output array was not large enough for encryption$"):
        lp.secretbox_decrypt(K32, tampered)


def test_split_local_value_rejects_others() -> None:
    with pytest.raises(DecodeError):
        lp.split_local_value(b"k8s:enc:kms:v2:x:abc")
    with pytest.raises(DecodeError):
        lp.split_local_value(b"k8s:enc:aescbc:v1:nocolon")


@pytest.mark.parametrize(
    ("value", "kind", "prefix", "name"),
    [
        (
            kmsv2_format.provider_prefix("kms-provider") + b"\x0a\x01x",
            "kms-v2",
            "k8s:enc:kms:v2:kms-provider:",
            "kms-provider",
        ),
        (kmsv1_format.encode_v1_value("old", b"E", b"D"), "kms-v1", "k8s:enc:kms:v1:old:", "old"),
        (b"k8s:enc:aescbc:v1:key1:xx", "aescbc", "k8s:enc:aescbc:v1:key1:", "key1"),
        (b"k8s:enc:aesgcm:v1:g:xx", "aesgcm", "k8s:enc:aesgcm:v1:g:", "g"),
        (b"k8s:enc:secretbox:v1:s:xx", "secretbox", "k8s:enc:secretbox:v1:s:", "s"),
        (b"k8s\x00\n\x0c", "identity", "", ""),
        (b'{"kind":"Foo"}', "identity", "", ""),
        (b"k8s:enc:rot13:v1:k:data", "unknown", "k8s:enc:rot13:v1:", ""),
    ],
)
def test_describe_prefix(value: bytes, kind: str, prefix: str, name: str) -> None:
    info = describe_prefix(value)
    assert (info.kind, info.prefix, info.name) == (kind, prefix, name)
    assert info.description


def test_kms_v1_format() -> None:
    value = kmsv1_format.encode_v1_value("p", b"\x01" * 300, b"gcm-data")
    assert value[len(b"k8s:enc:kms:v1:p:") :][:2] == b"\x01\x2c"  # 300, big-endian
    assert kmsv1_format.split_v1_value(value) == ("p", b"\x01" * 300, b"gcm-data")
    for bad in (b"k8s:enc:kms:v1:p:\x00", b"k8s:enc:kms:v1:p:\x00\x05abc", b"k8s:enc:kms:v2:p:\x00\x00"):
        with pytest.raises(DecodeError):
            kmsv1_format.split_v1_value(bad)
