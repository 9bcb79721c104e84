"""EncryptionConfiguration model and decoder (kmsv2-spec.md 8.1): YAML -> frozen dataclasses.

Decoding follows sigs.k8s.io/yaml + the apiserver's codec: the document must name
`apiserver.config.k8s.io/v1` `EncryptionConfiguration` (or the legacy `v1` `EncryptionConfig`),
fields are case-sensitive, YAML null leaves a pointer unset, and from 1.31 unknown fields are a
`strict decoding error`. Defaults are applied here (kms apiVersion v1, timeout 3s, v1 cachesize
1000); validation lives in `encryption_config_validation`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from sandbox.core import kmsv1_format, kmsv2_format
from sandbox.core.errors import ConfigError
from sandbox.core.go_text import go_quote, parse_go_duration

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
LEGACY = ("v1", "EncryptionConfig")
LATEST_MINOR = 36
DEFAULT_TIMEOUT = 3.0
DEFAULT_V1_CACHESIZE = 1000
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZES = (32,)
NON_REST_RESOURCES = ("apiserveripinfo", "serviceipallocations", "servicenodeportallocations")
KMSV1_DEPRECATED = (
    "KMSv1 is deprecated and will only receive security updates going forward. Use KMSv2 instead.  "
    "Set --feature-gates=KMSv1=true to use the deprecated KMSv1 feature."
)

NO_PROVIDER_ERR = (
    "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
)
MORE_THAN_ONE_ERR = (
    "more than one provider specified in a single element, should split into different list elements"
)

ProviderKind = Literal["aesgcm", "aescbc", "secretbox", "identity", "kms"]
# Field order of Go's ProviderConfiguration struct, used when rendering it in messages.
_PROVIDER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("aesgcm", "AESGCM", "AESConfiguration"),
    ("aescbc", "AESCBC", "AESConfiguration"),
    ("secretbox", "Secretbox", "SecretboxConfiguration"),
    ("identity", "Identity", "IdentityConfiguration"),
    ("kms", "KMS", "KMSConfiguration"),
)
_KNOWN_FIELDS: Mapping[str, tuple[str, ...]] = {
    "top": ("apiVersion", "kind", "resources"),
    "resource": ("resources", "providers"),
    "provider": tuple(f[0] for f in _PROVIDER_FIELDS),
    "keyed": ("keys",),
    "key": ("name", "secret"),
    "identity": (),
    "kms": ("apiVersion", "name", "cachesize", "endpoint", "timeout"),
}


@dataclass(frozen=True)
class KeyConfig:
    name: str
    secret: str
    """Base64 text as written in the file; never logged."""

    def __repr__(self) -> str:  # keep key material out of logs and tracebacks
        return f"KeyConfig(name={self.name!r}, secret=<redacted>)"

    @property
    def key_bytes(self) -> bytes:
        return base64.b64decode(self.secret, validate=True)


@dataclass(frozen=True)
class KMSConfig:
    name: str
    endpoint: str
    api_version: str = "v1"
    timeout_seconds: float = DEFAULT_TIMEOUT
    cachesize: int | None = None


@dataclass(frozen=True)
class ProviderConfig:
    """One `providers[]` element; `kinds` lists every kind set (valid configs have exactly one)."""

    kinds: tuple[ProviderKind, ...]
    kms: KMSConfig | None = None
    keys: tuple[KeyConfig, ...] = ()

    @property
    def kind(self) -> ProviderKind:
        return self.kinds[0]

    @property
    def prefix(self) -> str:
        """The prefix this provider writes ("" for identity; the first key's for local providers)."""
        if self.kind == "kms" and self.kms is not None:
            base = kmsv2_format.PREFIX if self.kms.api_version == "v2" else kmsv1_format.PREFIX
            return f"{base}{self.kms.name}:"
        if self.kind == "identity":
            return ""
        return f"k8s:enc:{self.kind}:v1:{self.keys[0].name}:" if self.keys else f"k8s:enc:{self.kind}:v1:"

    @property
    def label(self) -> str:
        """Short human name: `kms v2 "name"`, `aescbc key1`, `identity`."""
        if self.kind == "kms" and self.kms is not None:
            return f'kms {self.kms.api_version} "{self.kms.name}"'
        if self.keys:
            return f"{self.kind} {self.keys[0].name}"
        return self.kind


IDENTITY = ProviderConfig(kinds=("identity",))


@dataclass(frozen=True)
class ResourceConfig:
    resources: tuple[str, ...]
    providers: tuple[ProviderConfig, ...]


@dataclass(frozen=True)
class EncryptionConfig:
    resources: tuple[ResourceConfig, ...]
    api_version: str = API_VERSION
    kind: str = KIND

    @property
    def kms_providers(self) -> list[KMSConfig]:
        return [p.kms for r in self.resources for p in r.providers if p.kms is not None]


# --- decoding -------------------------------------------------------------------------------


class _Decoder:
    """YAML -> model, collecting unknown fields the way the strict JSON decoder reports them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.unknown: list[str] = []

    def fail(self, detail: str) -> ConfigError:
        return ConfigError(
            f"error decoding encryption provider configuration file {go_quote(self.path)}: {detail}"
        )

    def obj(self, value: Any, where: str, schema: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(
                f"json: cannot unmarshal {_json_type(value)} into Go value of type object"
                f" at {where or 'root'}"
            )
        for key in value:
            if str(key) not in _KNOWN_FIELDS[schema]:
                self.unknown.append(f"{where}.{key}" if where else str(key))
        return value

    def lst(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field {where} of type array"
            )
        return value

    def string(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field {where} of type string"
            )
        return value

    def provider(self, raw: Any, where: str) -> ProviderConfig:
        doc = self.obj(raw, where, "provider")
        # A key whose value is YAML null leaves Go's pointer nil: it does not count as set.
        kinds = tuple(name for name, _, _ in _PROVIDER_FIELDS if doc.get(name) is not None)
        kms = None
        keys: list[KeyConfig] = []
        for name in kinds:
            sub = f"{where}.{name}"
            if name == "kms":
                kms = self.kms(doc[name], sub)
            elif name == "identity":
                self.obj(doc[name], sub, "identity")
            elif not keys:
                body = self.obj(doc[name], sub, "keyed")
                for k, key in enumerate(self.lst(body.get("keys"), f"{sub}.keys")):
                    kd = self.obj(key, f"{sub}.keys[{k}]", "key")
                    keys.append(
                        KeyConfig(
                            self.string(kd.get("name"), f"{sub}.keys[{k}].name"),
                            self.string(kd.get("secret"), f"{sub}.keys[{k}].secret"),
                        )
                    )
        return ProviderConfig(kinds=kinds or (), kms=kms, keys=tuple(keys))  # type: ignore[arg-type]

    def kms(self, raw: Any, where: str) -> KMSConfig:
        doc = self.obj(raw, where, "kms")
        api_version = self.string(doc.get("apiVersion"), f"{where}.apiVersion") or "v1"
        timeout = DEFAULT_TIMEOUT
        if doc.get("timeout") is not None:
            try:
                timeout = parse_go_duration(self.string(doc["timeout"], f"{where}.timeout"))
            except ValueError as exc:
                raise self.fail(str(exc)) from None
        cachesize = doc.get("cachesize")
        if cachesize is not None and (isinstance(cachesize, bool) or not isinstance(cachesize, int)):
            raise self.fail(
                f"json: cannot unmarshal {_json_type(cachesize)} into Go struct field {where}.cachesize"
            )
        if cachesize is None and api_version == "v1":
            cachesize = DEFAULT_V1_CACHESIZE  # defaulting applies to v1 only, so v2 can reject any value
        return KMSConfig(
            name=self.string(doc.get("name"), f"{where}.name"),
            endpoint=self.string(doc.get("endpoint"), f"{where}.endpoint"),
            api_version=api_version,
            timeout_seconds=timeout,
            cachesize=cachesize,
        )


def parse_group_resource(s: str) -> tuple[str, str]:
    """(group, resource) as schema.ParseGroupResource splits it at the first dot."""
    resource, dot, group = s.partition(".")
    return (group, resource) if dot else ("", s)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_encryption_config(
    text: str | bytes, *, minor: int = LATEST_MINOR, path: str = ""
) -> EncryptionConfig:
    """Decode and default, without validation. Strict (unknown fields rejected) from 1.31."""
    raw = text.encode() if isinstance(text, str) else text
    dec = _Decoder(path)
    if not raw:
        raise ConfigError(f"encryption provider configuration file {go_quote(path)} is empty")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise dec.fail(f"yaml: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise dec.fail(f"couldn't get version/kind; json parse error: cannot unmarshal {_json_type(doc)}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not kind:
        raise dec.fail(f"Object 'Kind' is missing in '{json.dumps(doc, separators=(',', ':'), default=str)}'")
    if (api_version, kind) not in ((API_VERSION, KIND), LEGACY):
        raise dec.fail(
            f"no kind {go_quote(str(kind))} is registered for version {go_quote(str(api_version or ''))}"
        )
    top = dec.obj(doc, "", "top")
    entries = []
    for i, entry in enumerate(dec.lst(top.get("resources"), "resources")):
        where = f"resources[{i}]"
        e = dec.obj(entry, where, "resource")
        resources = tuple(
            dec.string(r, f"{where}.resources") for r in dec.lst(e.get("resources"), f"{where}.resources")
        )
        providers = tuple(
            dec.provider(p, f"{where}.providers[{j}]")
            for j, p in enumerate(dec.lst(e.get("providers"), f"{where}.providers"))
        )
        entries.append(ResourceConfig(resources, providers))
    if minor >= 31 and dec.unknown:
        raise dec.fail(
            "strict decoding error: " + ", ".join(f"unknown field {go_quote(u)}" for u in dec.unknown)
        )
    return EncryptionConfig(resources=tuple(entries), api_version=str(api_version), kind=str(kind))
