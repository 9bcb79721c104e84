"""Limits on key ids, wrapped DEK sources and annotations (kmsv2-spec.md 3.3 and 5).

The same rules apply to Status responses, Encrypt responses and stored objects. Messages match
upstream byte for byte, including the field-error rendering of k8s.io/apimachinery
(`annotations: Invalid value: "<key>": <detail>`) and its aggregate form (one error: bare; several:
`[e1, e2]`, duplicates printed once). `strict=False` models 1.25, which checked only for
non-empty fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

from sandbox.core.errors import ValidationError
from sandbox.core.go_text import go_quote

KEY_ID_MAX_SIZE = 1024
ENCRYPTED_DEK_SOURCE_MAX_SIZE = 1024
ANNOTATIONS_MAX_SIZE = 32 * 1024
DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63

_LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + r")*"
_LABEL_RE = re.compile("^" + _LABEL_FMT + "$")
_SUBDOMAIN_RE = re.compile("^" + _SUBDOMAIN_FMT + "$")

SUBDOMAIN_REGEX_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character "
    f"(e.g. 'example.com', regex used for validation is '{_SUBDOMAIN_FMT}')"
)
# The double space after 'my-name', is upstream's.
LABEL_REGEX_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character "
    f"(e.g. 'my-name',  or '123-abc', regex used for validation is '{_LABEL_FMT}')"
)
TWO_SEGMENTS_ERROR = "should be a domain with at least two segments separated by dots"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def aggregate(messages: Iterable[str]) -> str:
    """k8s.io/apimachinery utilerrors aggregate text: dedupe, one bare, several in brackets."""
    unique: list[str] = []
    for msg in messages:
        if msg not in unique:
            unique.append(msg)
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def fqdn_errors(path: str, name: str) -> list[str]:
    """IsFullyQualifiedDomainName, rendered as field errors at `path`."""
    if not name:
        return [f"{path}: Required value"]
    if name.endswith("."):
        name = name[:-1]
    sub_errs = []
    if len(name) > DNS1123_SUBDOMAIN_MAX:
        sub_errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _SUBDOMAIN_RE.match(name):
        sub_errs.append(SUBDOMAIN_REGEX_ERROR)
    if sub_errs:
        return [f"{path}: Invalid value: {go_quote(name)}: {','.join(sub_errs)}"]
    labels = name.split(".")
    if len(labels) < 2:
        return [f"{path}: Invalid value: {go_quote(name)}: {TWO_SEGMENTS_ERROR}"]
    for label in labels:
        label_errs = []
        if len(label) > DNS1123_LABEL_MAX:
            label_errs.append(max_len_error(DNS1123_LABEL_MAX))
        if not _LABEL_RE.match(label):
            label_errs.append(LABEL_REGEX_ERROR)
        if label_errs:
            return [f"{path}: Invalid value: {go_quote(label)}: {','.join(label_errs)}"]
    return []


def key_id_error_code(key_id: str) -> Literal["ok", "empty", "too_long"]:
    """The `error` label of `invalid_key_id_from_status_total` (and "ok")."""
    if not key_id:
        return "empty"
    if len(key_id.encode()) > KEY_ID_MAX_SIZE:
        return "too_long"
    return "ok"


def validate_key_id(key_id: str, *, strict: bool = True) -> None:
    if not key_id:
        raise ValidationError("keyID is empty")
    size = len(key_id.encode())
    if strict and size > KEY_ID_MAX_SIZE:
        raise ValidationError(f"keyID is {size} bytes, which exceeds the max size of {KEY_ID_MAX_SIZE}")


def validate_encrypted_dek_source(edek: bytes | None, *, strict: bool = True) -> None:
    if not edek:
        raise ValidationError("encrypted DEK source is empty")
    if strict and len(edek) > ENCRYPTED_DEK_SOURCE_MAX_SIZE:
        raise ValidationError(
            f"encrypted DEK source is {len(edek)} bytes, "
            f"which exceeds the max size of {ENCRYPTED_DEK_SOURCE_MAX_SIZE}"
        )


def annotations_size(annotations: Mapping[str, bytes]) -> int:
    return sum(len(k.encode()) + len(v) for k, v in annotations.items())


def validate_annotations(annotations: Mapping[str, bytes], *, strict: bool = True) -> None:
    """Every key a FQDN; keys + values at most 32768 bytes. Nothing is checked when not strict."""
    if not strict:
        return
    errors: list[str] = []
    # Go iterates the map in random order; sorting keeps our message deterministic.
    for key in sorted(annotations):
        errs = fqdn_errors("annotations", key)
        if errs:
            errors.append(aggregate(errs))
    total = annotations_size(annotations)
    if total > ANNOTATIONS_MAX_SIZE:
        errors.append(
            f"total size of annotations is {total}, which exceeds the max size of {ANNOTATIONS_MAX_SIZE}"
        )
    if errors:
        raise ValidationError(aggregate(errors))
