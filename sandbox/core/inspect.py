"""The envelope inspector: what an etcd value is, byte by byte, and what it decrypts to.

Pure: it takes the stored bytes (and optionally the etcd key and the plaintext DEK or seed the
plugin returned) and describes them. Fetching values from etcd and asking a plugin to unwrap the
DEK are the caller's job (`kms-sandbox inspect`, the UI). `parse_input` turns what a learner
pastes (raw bytes, hex, base64, `etcdctl get -w json`) into (key, value) pairs.

Arbitrary input only ever raises `DecodeError`; a DEK that does not open the payload raises
`DecryptError` naming what failed. Secret values are kept out of the report unless asked for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from sandbox.core import aead, kmsv1_format, kmsv2_format, local_providers
from sandbox.core.errors import DecodeError, DecryptError, SandboxError, ValidationError
from sandbox.core.hashing import key_id_hash
from sandbox.core.k8s_objects import decode_object
from sandbox.core.prefixes import describe_prefix

InputFormat = Literal["auto", "raw", "hex", "base64", "etcdctl-json"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("auto", "raw", "hex", "base64", "etcdctl-json")
_HEX = re.compile(rb"^[0-9a-fA-F]+$")
_B64 = re.compile(rb"^[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True)
class PayloadLayout:
    """How the ciphertext bytes split up (spec 3.5-3.7, 3.10)."""

    mode: str
    total: int
    info_size: int = 0
    nonce_size: int = 0
    ciphertext_size: int = 0
    tag_size: int = 0
    counter: int | None = None
    """AES_GCM_KEY mode: the little-endian counter in nonce bytes 4..11."""
    nonce_hex: str = ""
    info_hex: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "total": self.total,
            "info": self.info_size,
            "nonce": self.nonce_size,
            "ciphertext": self.ciphertext_size,
            "tag": self.tag_size,
        }
        if self.counter is not None:
            out["counter"] = self.counter
        if self.nonce_hex:
            out["nonce_hex"] = self.nonce_hex
        if self.info_hex:
            out["info_hex"] = self.info_hex
        return out


@dataclass(frozen=True)
class DecryptedObject:
    kind: str
    namespace: str
    name: str
    data_keys: tuple[str, ...]
    data: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    encoding: str = "protobuf"

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))


@dataclass(frozen=True)
class InspectReport:
    kind: str
    """Prefix kind: kms-v2, kms-v1, aescbc, aesgcm, secretbox, identity, unknown."""
    prefix: str
    provider: str
    description: str
    size: int
    etcd_key: str | None = None
    key_id: str | None = None
    dek_source_type: str | None = None
    dek_source_type_value: int | None = None
    encrypted_dek_source: bytes = field(default=b"", repr=False)
    annotations: Mapping[str, bytes] = field(default_factory=dict)
    layout: PayloadLayout | None = None
    validation_error: str | None = None
    """What upstream's ValidateEncryptedObject would say (`got invalid EncryptedObject: ...`)."""
    plaintext_len: int | None = None
    plaintext_sha256: str | None = None
    object: DecryptedObject | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def key_id_hash(self) -> str:
        return key_id_hash(self.key_id or "")

    @property
    def encrypted(self) -> bool:
        return self.kind != "identity"

    def to_json_dict(self, *, show_values: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "etcd_key": self.etcd_key,
            "size": self.size,
            "kind": self.kind,
            "prefix": self.prefix,
            "provider": self.provider,
            "key_id": self.key_id,
            "key_id_hash": self.key_id_hash if self.key_id is not None else None,
            "dek_source_type": self.dek_source_type,
            "annotations": {k: base64.b64encode(v).decode() for k, v in sorted(self.annotations.items())},
        }
        if self.encrypted_dek_source:
            out["encrypted_dek_source"] = {
                "length": len(self.encrypted_dek_source),
                "sha256": hashlib.sha256(self.encrypted_dek_source).hexdigest(),
            }
        if self.layout is not None:
            out["layout"] = self.layout.to_json_dict()
        if self.validation_error is not None:
            out["validation_error"] = self.validation_error
        if self.plaintext_sha256 is not None:
            out["plaintext_len"] = self.plaintext_len
            out["plaintext_sha256"] = self.plaintext_sha256
        if self.object is not None:
            obj: dict[str, Any] = {
                "kind": self.object.kind,
                "namespace": self.object.namespace,
                "name": self.object.name,
                "data_keys": list(self.object.data_keys),
                "encoding": self.object.encoding,
            }
            if show_values:
                obj["data"] = {k: base64.b64encode(v).decode() for k, v in sorted(self.object.data.items())}
            out["object"] = obj
        if self.notes:
            out["notes"] = list(self.notes)
        return out


# --- input parsing --------------------------------------------------------------------------


def _etcdctl_json(text: bytes) -> list[tuple[str | None, bytes]]:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"input is not valid etcdctl JSON: {exc}") from None
    if not isinstance(doc, dict) or ("kvs" not in doc and "header" not in doc):
        raise DecodeError('input is not `etcdctl get -w json` output (expected an object with "kvs")')
    kvs = doc.get("kvs") or []
    if not isinstance(kvs, list) or not kvs:
        raise DecodeError("etcdctl JSON has no kvs: the key was not found in etcd")
    out: list[tuple[str | None, bytes]] = []
    for kv in kvs:
        if not isinstance(kv, dict) or not isinstance(kv.get("value", ""), str):
            raise DecodeError("etcdctl JSON kvs entries must carry base64 `key` and `value` strings")
        try:
            key = base64.b64decode(str(kv.get("key", "")), validate=True).decode("utf-8", "replace")
            value = base64.b64decode(str(kv.get("value", "")), validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("etcdctl JSON key/value is not valid base64") from None
        out.append((key or None, value))
    return out


def _looks_like_etcdctl(text: bytes) -> bool:
    """etcdctl output has `header` (and `kvs` when found); a stored CRD has `kind` instead."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(doc, dict) and "kind" not in doc and ("kvs" in doc or isinstance(doc.get("header"), dict))
    )


def parse_input(data: bytes | str, fmt: str = "auto") -> list[tuple[str | None, bytes]]:
    """Turn pasted input into (etcd key or None, value) pairs. Only raises DecodeError."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    if fmt not in INPUT_FORMATS:
        raise DecodeError(f"unknown input format {fmt!r}; expected one of {', '.join(INPUT_FORMATS)}")
    compact = b"".join(raw.split())
    if fmt == "raw":
        return [(None, raw)]
    if fmt == "hex":
        if not _HEX.match(compact) or len(compact) % 2:
            raise DecodeError("input is not valid hex (expected an even number of 0-9a-f digits)")
        return [(None, bytes.fromhex(compact.decode()))]
    if fmt == "base64":
        try:
            return [(None, base64.b64decode(compact, validate=True))]
        except (binascii.Error, ValueError):
            raise DecodeError("input is not valid base64") from None
    if fmt == "etcdctl-json":
        return _etcdctl_json(raw)
    # auto: stored values start with a k8s prefix; pasted text is one of the encodings.
    if raw.startswith((b"k8s:enc:", b"k8s\x00")):
        return [(None, raw)]
    stripped = raw.strip()
    if stripped.startswith(b"{") and _looks_like_etcdctl(stripped):
        return _etcdctl_json(stripped)
    if compact and _HEX.match(compact) and len(compact) % 2 == 0:
        return [(None, bytes.fromhex(compact.decode()))]
    if compact and _B64.match(compact) and len(compact) % 4 == 0:
        try:
            decoded = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded.startswith((b"k8s:enc:", b"k8s\x00", b"{")):
            return [(None, decoded)]
    return [(None, raw)]


# --- inspection -----------------------------------------------------------------------------


def gcm_layout(data: bytes, *, mode: str, info_size: int = 0, counter_nonce: bool = False) -> PayloadLayout:
    body = data[info_size:]
    nonce = body[: aead.NONCE_SIZE]
    sealed = max(len(body) - aead.NONCE_SIZE, 0)
    tag = min(sealed, aead.TAG_SIZE)
    counter = aead.counter_from_nonce(nonce) if counter_nonce and len(nonce) == aead.NONCE_SIZE else None
    return PayloadLayout(
        mode=mode,
        total=len(data),
        info_size=min(info_size, len(data)),
        nonce_size=len(nonce),
        ciphertext_size=sealed - tag,
        tag_size=tag,
        counter=counter,
        nonce_hex=nonce.hex(),
        info_hex=data[:info_size].hex(),
    )


PLAUSIBLE_WRITES = 2**40
"""More writes than this under one DEK is not credible: such a 'counter' is a random nonce."""


def _counter_notes(counter: int) -> list[str]:
    """A 1.27+ counter is just above 1,000,000,000; 1.25/1.26 nonces are 12 random bytes."""
    if counter <= aead.COUNTER_START:
        return ["nonce counter is not above 1,000,000,000: not written by a 1.27+ counter-nonce server"]
    if counter > aead.COUNTER_START + PLAUSIBLE_WRITES:
        return [
            "nonce bytes 4..11 look random: probably a 1.25/1.26 value (fresh DEK, random nonce per write)"
        ]
    return []


def _describe_plaintext(plaintext: bytes) -> tuple[DecryptedObject | None, str | None]:
    try:
        obj = decode_object(plaintext)
    except DecodeError as exc:
        return None, f"plaintext is not a Kubernetes storage object ({exc})"
    keys = tuple(sorted(obj.data)) + tuple(sorted(obj.binary_data))
    data = {**obj.data, **obj.binary_data}
    return DecryptedObject(obj.kind, obj.namespace, obj.name, keys, data, obj.encoding), None


def _need_aad(etcd_key: str | None) -> bytes:
    if etcd_key is None:
        raise ValidationError(
            "the etcd key is needed to decrypt: it is the AES-GCM additional authenticated data"
        )
    return etcd_key.encode()


def _open(what: str, fn: Any, *args: Any) -> bytes:
    try:
        result: bytes = fn(*args)
    except DecryptError as exc:
        hint = ""
        if str(exc) == aead.ERR_AUTH:
            hint = " (wrong DEK/seed, or wrong etcd key: the full etcd key is the AAD)"
        raise DecryptError(f"decrypting {what} failed: {exc}{hint}") from None
    except ValidationError as exc:
        raise DecryptError(f"decrypting {what} failed: {exc}") from None
    return result


def inspect_value(
    value: bytes, *, etcd_key: str | None = None, dek_or_seed: bytes | None = None
) -> InspectReport:
    """Describe one stored value; decrypt it when the DEK/seed (or local key) and etcd key are given."""
    info = describe_prefix(value)
    base: dict[str, Any] = {
        "kind": info.kind,
        "prefix": info.prefix,
        "provider": info.name,
        "description": info.description,
        "size": len(value),
        "etcd_key": etcd_key,
    }
    notes: list[str] = []
    plaintext: bytes | None = None

    if info.kind == "kms-v2":
        name, obj = kmsv2_format.decode_value(value)
        base["provider"] = name
        seed_mode = obj.dek_source_type == kmsv2_format.HKDF_SHA256_XNONCE_AES_GCM_SEED
        layout = (
            gcm_layout(obj.encrypted_data, mode=obj.dek_source_type_name, info_size=aead.INFO_SIZE)
            if seed_mode
            else gcm_layout(obj.encrypted_data, mode=obj.dek_source_type_name, counter_nonce=True)
        )
        validation_error = None
        try:
            kmsv2_format.validate_encrypted_object(obj)
        except ValidationError as exc:
            validation_error = f"got invalid EncryptedObject: {exc}"
        if layout.counter is not None:
            notes.extend(_counter_notes(layout.counter))
        if dek_or_seed is not None:
            aad = _need_aad(etcd_key)
            if seed_mode:
                try:
                    transformer = aead.ExtendedNonceGCM(dek_or_seed)
                except ValidationError as exc:
                    raise DecryptError(f"decrypting encryptedData failed: {exc}") from None
                plaintext = _open("encryptedData with the seed", transformer.decrypt, obj.encrypted_data, aad)
            else:
                plaintext = _open(
                    "encryptedData with the DEK", aead.gcm_decrypt, dek_or_seed, obj.encrypted_data, aad
                )
        base.update(
            key_id=obj.key_id,
            dek_source_type=obj.dek_source_type_name,
            dek_source_type_value=obj.dek_source_type,
            encrypted_dek_source=obj.encrypted_dek_source,
            annotations=obj.annotations,
            layout=layout,
            validation_error=validation_error,
        )
    elif info.kind == "kms-v1":
        name, edek, data = kmsv1_format.split_v1_value(value)
        base.update(provider=name, encrypted_dek_source=edek, layout=gcm_layout(data, mode="KMS v1 AES-GCM"))
        if dek_or_seed is not None:
            plaintext = _open(
                "the KMS v1 payload with the DEK", aead.gcm_decrypt, dek_or_seed, data, _need_aad(etcd_key)
            )
    elif info.kind in local_providers.LOCAL_PROVIDERS:
        _, _, data = local_providers.split_local_value(value)
        if info.kind == "aesgcm":
            base["layout"] = gcm_layout(data, mode="aesgcm (random nonce)")
        elif info.kind == "aescbc":
            blocks = max(len(data) - local_providers.AES_BLOCK, 0)
            base["layout"] = PayloadLayout(
                "aescbc", len(data), nonce_size=min(len(data), 16), ciphertext_size=blocks
            )
        else:
            sealed = max(len(data) - local_providers.SECRETBOX_NONCE_SIZE, 0)
            base["layout"] = PayloadLayout(
                "secretbox",
                len(data),
                nonce_size=min(len(data), 24),
                ciphertext_size=max(sealed - 16, 0),
                tag_size=min(sealed, 16),
            )
        if dek_or_seed is not None:
            aad = _need_aad(etcd_key) if info.kind == "aesgcm" else (etcd_key or "").encode()
            plaintext = _open(
                f"the {info.kind} payload with the key",
                local_providers.DECRYPT[info.kind],
                dek_or_seed,
                data,
                aad,
            )
    elif info.kind == "identity":
        plaintext = value
    else:
        notes.append("unknown transformer: nothing more can be read without its code")

    if plaintext is not None:
        base["plaintext_len"] = len(plaintext)
        base["plaintext_sha256"] = hashlib.sha256(plaintext).hexdigest()
        obj_desc, note = _describe_plaintext(plaintext)
        base["object"] = obj_desc
        if note:
            notes.append(note)
    elif dek_or_seed is None and info.kind != "identity" and info.kind != "unknown":
        notes.append("payload not decrypted: give the DEK/seed (or a plugin) and the etcd key")
    return InspectReport(notes=tuple(notes), **base)


def inspect_safely(value: bytes) -> InspectReport:
    """`inspect_value` without a key; raises only DecodeError whatever the bytes."""
    try:
        return inspect_value(value)
    except DecodeError:
        raise
    except SandboxError as exc:  # pragma: no cover - defensive: keep the promise to callers
        raise DecodeError(str(exc)) from None
