"""Key id, DEK source and annotation limits: upstream scenarios ENV-7, ENV-8, ENV-9."""

from __future__ import annotations

import pytest

from sandbox.core import validation as v
from sandbox.core.errors import ValidationError
from sandbox.core.go_text import go_quote

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)


@pytest.mark.parametrize(
    ("key_id", "message", "code"),
    [
        ("1234", None, "ok"),
        ("", "keyID is empty", "empty"),
        ("a" * 1025, "keyID is 1025 bytes, which exceeds the max size of 1024", "too_long"),
    ],
)
def test_env8_validate_key_id(key_id: str, message: str | None, code: str) -> None:
    assert v.key_id_error_code(key_id) == code
    if message is None:
        v.validate_key_id(key_id)
    else:
        with pytest.raises(ValidationError) as exc:
            v.validate_key_id(key_id)
        assert str(exc.value) == message


def test_key_id_limit_counts_utf8_bytes_and_1024_passes() -> None:
    v.validate_key_id("a" * 1024)
    with pytest.raises(ValidationError, match="is 1026 bytes"):
        v.validate_key_id("é" * 513)


def test_key_id_lenient_mode_checks_only_emptiness() -> None:
    v.validate_key_id("a" * 5000, strict=False)
    with pytest.raises(ValidationError, match=r"^keyID is empty$"):
        v.validate_key_id("", strict=False)


@pytest.mark.parametrize("edek", [None, b""])
def test_env9_empty_dek_source(edek: bytes | None) -> None:
    with pytest.raises(ValidationError, match=r"^encrypted DEK source is empty$"):
        v.validate_encrypted_dek_source(edek)


def test_env9_dek_source_sizes() -> None:
    v.validate_encrypted_dek_source(b"abc")
    v.validate_encrypted_dek_source(bytes(1024))
    with pytest.raises(ValidationError) as exc:
        v.validate_encrypted_dek_source(bytes(1025))
    assert str(exc.value) == "encrypted DEK source is 1025 bytes, which exceeds the max size of 1024"
    v.validate_encrypted_dek_source(bytes(1025), strict=False)


@pytest.mark.parametrize(
    "key", ["a.com", "k8s.io", "dev.k8s.io", "dev.k8s.io.", "10.0.0.1", "a" * 63 + ".com", "a." * 126 + "b"]
)
def test_env7_valid_annotation_keys(key: str) -> None:
    if key.startswith("a.a."):
        assert len(key) == 253
    v.validate_annotations({key: b"value"})


@pytest.mark.parametrize(
    "key",
    [
        ".",
        "...",
        ".io",
        ".com",
        "Dev.k8s.io",
        "*.example.com",
        "underscores_are_bad.k8s.io",
        "foo@bar.example.com",
        "http://foo.example.com",
    ],
)
def test_env7_keys_failing_the_subdomain_regex(key: str) -> None:
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations({key: b""})
    assert SUBDOMAIN_MSG in str(exc.value)
    assert str(exc.value).startswith("annotations: Invalid value: ")


def test_env7_single_segment() -> None:
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations({"com": b""})
    assert str(exc.value) == (
        'annotations: Invalid value: "com": should be a domain with at least two segments separated by dots'
    )


def test_env7_long_label_and_long_name() -> None:
    label = "a" * 64
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations({label + ".com": b""})
    assert str(exc.value) == f'annotations: Invalid value: "{label}": must be no more than 63 characters'
    long_name = "a." * 126 + "bc"
    assert len(long_name) == 254
    with pytest.raises(ValidationError, match="must be no more than 253 characters"):
        v.validate_annotations({long_name: b""})


def test_env6_at_sign_full_message() -> None:
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations({"@": b""})
    assert str(exc.value) == (
        'annotations: Invalid value: "@": '
        + SUBDOMAIN_MSG
        + " (e.g. 'example.com', regex used for validation "
        "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


@pytest.mark.parametrize(
    "annotations",
    [
        {"a.com": b"x" * 32 * 1024},
        {"a.com": b"x" * 33 * 1024},
        {"a.com": b"x" * 64 * 1024},
        {"a.com": b"x" * 31 * 1024, "b.com": b"x" * 1024},
        {"a." * 126 + "b": b"x" * 32 * 1024},
    ],
)
def test_env7_total_size(annotations: dict[str, bytes]) -> None:
    total = sum(len(k) + len(val) for k, val in annotations.items())
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations(annotations)
    assert str(exc.value) == f"total size of annotations is {total}, which exceeds the max size of 32768"


def test_total_size_limit_is_inclusive() -> None:
    v.validate_annotations({"a.com": b"x" * (32768 - 5)})


def test_several_errors_aggregate_in_brackets() -> None:
    with pytest.raises(ValidationError) as exc:
        v.validate_annotations({"com": b"", "org": b"x" * 40000})
    msg = str(exc.value)
    assert msg.startswith('[annotations: Invalid value: "com"')
    assert msg.endswith("which exceeds the max size of 32768]")
    assert msg.count(", annotations: Invalid value") == 1


def test_lenient_annotations_skip_checks() -> None:
    v.validate_annotations({"NOT A DOMAIN": b"x" * 40000}, strict=False)


def test_aggregate_dedupes() -> None:
    assert v.aggregate(["a"]) == "a"
    assert v.aggregate(["a", "a"]) == "a"
    assert v.aggregate(["a", "b", "a"]) == "[a, b]"


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
