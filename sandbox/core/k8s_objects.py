"""Secrets and ConfigMaps in the apiserver's storage encoding (the plaintext of `encryptedData`).

Built-in types are stored as `k8s\\x00` + protobuf `runtime.Unknown{typeMeta{apiVersion, kind},
raw = the object, contentEncoding "", contentType ""}`. The shape written here matches what a real
kube-apiserver wrote in the recorded test vector (kmsv2-spec.md 3.9): Go's generated proto2 code
emits every non-pointer field even when empty (`generateName`, `selfLink`, `resourceVersion`,
which the apiserver clears before storing, `generation`, `creationTimestamp.nanos`, Secret
`type`), and omits nil pointers (`deletionTimestamp`, `immutable`). Map entries are sorted.

CRDs are stored as JSON; `decode_object` accepts that too. Fields this module does not model
(managedFields, ownerReferences, ...) survive a decode/encode round trip through `preserved`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sandbox._proto.k8s import objects_pb2
from sandbox.core.errors import DecodeError, ValidationError

MAGIC = b"k8s\x00"
PROTOBUF = "protobuf"
JSON = "json"
RESOURCE_FOR_KIND: Mapping[str, str] = MappingProxyType({"Secret": "secrets", "ConfigMap": "configmaps"})


@dataclass(frozen=True)
class StoredObject:
    """The parts of a stored object the sandbox shows and edits."""

    kind: str
    namespace: str
    name: str
    uid: str = ""
    resource_version: str = ""
    """Always "" in etcd: the apiserver clears it and uses the etcd revision instead."""
    creation_timestamp: int = 0
    """Unix seconds (Kubernetes stores second precision)."""
    data: Mapping[str, bytes] = field(default_factory=dict)
    """Secret `data`, or ConfigMap `data` as UTF-8 bytes."""
    type: str = ""
    """Secret type, e.g. "Opaque"."""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    api_version: str = "v1"
    binary_data: Mapping[str, bytes] = field(default_factory=dict)
    """ConfigMap `binaryData`."""
    immutable: bool | None = None
    encoding: str = PROTOBUF
    """"protobuf" (built-in types) or "json" (CRDs)."""
    preserved: bytes = field(default=b"", compare=False, repr=False)
    """The original inner message (protobuf) or document (JSON), so unmodelled fields survive."""

    def __post_init__(self) -> None:
        for name in ("data", "labels", "annotations", "binary_data"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def resource(self) -> str:
        return RESOURCE_FOR_KIND.get(self.kind, self.kind.lower() + "s")


def etcd_key(obj: StoredObject, prefix: str = "/registry") -> str:
    """`<prefix>/<resource>/<namespace>/<name>`: the key and the AES-GCM AAD."""
    return f"{prefix.rstrip('/')}/{obj.resource}/{obj.namespace}/{obj.name}"


# --- protobuf -------------------------------------------------------------------------------


def _fill_meta(meta: objects_pb2.ObjectMeta, obj: StoredObject) -> None:
    meta.name = obj.name
    meta.generateName = meta.generateName  # assignment marks proto2 presence, as Go always emits it
    meta.namespace = obj.namespace
    meta.selfLink = meta.selfLink
    meta.uid = obj.uid
    meta.resourceVersion = obj.resource_version
    meta.generation = meta.generation
    meta.creationTimestamp.seconds = obj.creation_timestamp
    meta.creationTimestamp.nanos = 0
    meta.labels.clear()
    meta.labels.update(obj.labels)
    meta.annotations.clear()
    meta.annotations.update(obj.annotations)


def _encode_inner(obj: StoredObject) -> bytes:
    if obj.kind == "Secret":
        secret = objects_pb2.Secret.FromString(obj.preserved) if obj.preserved else objects_pb2.Secret()
        _fill_meta(secret.metadata, obj)
        secret.data.clear()
        secret.data.update(obj.data)
        secret.type = obj.type
        if obj.immutable is None:
            secret.ClearField("immutable")
        else:
            secret.immutable = obj.immutable
        return secret.SerializeToString(deterministic=True)
    if obj.kind == "ConfigMap":
        cm = objects_pb2.ConfigMap.FromString(obj.preserved) if obj.preserved else objects_pb2.ConfigMap()
        _fill_meta(cm.metadata, obj)
        cm.data.clear()
        try:
            cm.data.update({k: v.decode() for k, v in obj.data.items()})
        except UnicodeDecodeError:
            raise ValidationError("ConfigMap data values must be UTF-8; use binary_data for bytes") from None
        cm.binaryData.clear()
        cm.binaryData.update(obj.binary_data)
        if obj.immutable is None:
            cm.ClearField("immutable")
        else:
            cm.immutable = obj.immutable
        return cm.SerializeToString(deterministic=True)
    if obj.preserved:
        return obj.preserved  # other built-in kinds: carried through unchanged
    raise ValidationError(
        f"cannot encode kind {obj.kind!r} as protobuf; only Secret and ConfigMap are modelled"
    )


def encode_object(obj: StoredObject) -> bytes:
    """The storage bytes of `obj` (protobuf envelope, or JSON for `encoding="json"`)."""
    if obj.encoding == JSON:
        return _encode_json(obj)
    unknown = objects_pb2.Unknown(
        typeMeta=objects_pb2.TypeMeta(apiVersion=obj.api_version, kind=obj.kind),
        raw=_encode_inner(obj),
        contentEncoding="",
        contentType="",
    )
    return MAGIC + unknown.SerializeToString(deterministic=True)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DecodeError("truncated protobuf varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _first_length_delimited(buf: bytes, number: int) -> bytes:
    """The first field `number` of wire type 2 in `buf` (every Kubernetes object has metadata = 1)."""
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise DecodeError("truncated protobuf field")
            if tag >> 3 == number:
                return buf[pos : pos + length]
            pos += length
        else:
            raise DecodeError(f"unsupported protobuf wire type {wire}")
    return b""


def _from_meta(meta: objects_pb2.ObjectMeta) -> dict[str, Any]:
    return {
        "namespace": meta.namespace,
        "name": meta.name,
        "uid": meta.uid,
        "resource_version": meta.resourceVersion,
        "creation_timestamp": int(meta.creationTimestamp.seconds),
        "labels": dict(meta.labels),
        "annotations": dict(meta.annotations),
    }


def _decode_protobuf(data: bytes) -> StoredObject:
    unknown = objects_pb2.Unknown.FromString(data[len(MAGIC) :])
    kind, api_version, raw = unknown.typeMeta.kind, unknown.typeMeta.apiVersion, bytes(unknown.raw)
    if not kind:
        raise DecodeError("protobuf object has no kind in its typeMeta")
    if kind == "Secret":
        s = objects_pb2.Secret.FromString(raw)
        return StoredObject(
            kind=kind,
            api_version=api_version,
            data=dict(s.data),
            type=s.type,
            immutable=s.immutable if s.HasField("immutable") else None,
            preserved=raw,
            **_from_meta(s.metadata),
        )
    if kind == "ConfigMap":
        cm = objects_pb2.ConfigMap.FromString(raw)
        return StoredObject(
            kind=kind,
            api_version=api_version,
            data={k: v.encode() for k, v in cm.data.items()},
            binary_data=dict(cm.binaryData),
            immutable=cm.immutable if cm.HasField("immutable") else None,
            preserved=raw,
            **_from_meta(cm.metadata),
        )
    meta = objects_pb2.ObjectMeta.FromString(_first_length_delimited(raw, 1))
    return StoredObject(kind=kind, api_version=api_version, preserved=raw, **_from_meta(meta))


# --- JSON (CRDs) ----------------------------------------------------------------------------


def _parse_time(text: Any) -> int:
    if not text:
        return 0
    return calendar.timegm(time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ"))


def _decode_json(data: bytes) -> StoredObject:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise DecodeError("JSON object expected")
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise DecodeError("JSON metadata is not an object")
    kind = str(doc.get("kind", ""))
    raw_data = doc.get("data") or {}
    values: dict[str, bytes] = {}
    if isinstance(raw_data, dict):
        for k, v in raw_data.items():
            if kind == "Secret" and isinstance(v, str):
                values[str(k)] = base64.b64decode(v, validate=True)
            elif isinstance(v, str):
                values[str(k)] = v.encode()
            else:
                values[str(k)] = json.dumps(v, separators=(",", ":")).encode()
    return StoredObject(
        kind=kind,
        api_version=str(doc.get("apiVersion", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        creation_timestamp=_parse_time(meta.get("creationTimestamp")),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        data=values,
        type=str(doc.get("type", "")),
        encoding=JSON,
        preserved=bytes(data),
    )


def _encode_json(obj: StoredObject) -> bytes:
    doc: dict[str, Any] = json.loads(obj.preserved) if obj.preserved else {}
    doc["apiVersion"] = obj.api_version
    doc["kind"] = obj.kind
    meta = doc.setdefault("metadata", {})
    meta["name"] = obj.name
    if obj.namespace:
        meta["namespace"] = obj.namespace
    if obj.uid:
        meta["uid"] = obj.uid
    if obj.creation_timestamp:
        meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(obj.creation_timestamp))
    if obj.labels:
        meta["labels"] = dict(obj.labels)
    if obj.annotations:
        meta["annotations"] = dict(obj.annotations)
    if obj.data:
        if obj.kind == "Secret":
            doc["data"] = {k: base64.b64encode(v).decode() for k, v in sorted(obj.data.items())}
        else:
            doc["data"] = {k: v.decode("utf-8", "replace") for k, v in sorted(obj.data.items())}
    # The apiserver's JSON serializer ends each document with a newline.
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def decode_object(data: bytes) -> StoredObject:
    """Parse stored bytes; anything that is not a well-formed object raises `DecodeError`."""
    try:
        if data.startswith(MAGIC):
            return _decode_protobuf(data)
        if data.lstrip()[:1] == b"{":
            return _decode_json(data)
    except DecodeError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, binascii.Error) as exc:
        raise DecodeError(f"malformed stored object: {exc}") from None
    except Exception as exc:  # protobuf's DecodeError and friends
        raise DecodeError(f"malformed stored object: {exc}") from None
    raise DecodeError("not a Kubernetes storage object: expected protobuf (starting k8s\\x00) or JSON")
