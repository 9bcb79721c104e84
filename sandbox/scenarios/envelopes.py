"""What a scenario can say about a stored value, read straight from etcd: metadata only.

`EnvelopeView` names the provider type and name from the prefix and, for KMS v2, the
EncryptedObject's key_id, DEK-source type and a hash of the wrapped DEK/seed (to count distinct
seeds). The payload is never decrypted here and no plaintext or key material is kept.

`first_provider_prefix` reads an EncryptionConfiguration to learn which prefix a write would use
now, which is what decides staleness on the provider level (spec 4.6, 4.7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import yaml

from sandbox.core import kmsv1_format, kmsv2_format
from sandbox.core.errors import SandboxError

ENC_PREFIX = b"k8s:enc:"


@dataclass(frozen=True)
class EnvelopeView:
    present: bool
    encrypted: bool = False
    prefix: str = ""
    """The `k8s:enc:<type>:<version>:<name>:` prefix, "" for plaintext."""
    provider_type: str = "identity"
    """"kms-v2", "kms-v1", "aescbc", "aesgcm", "secretbox" or "identity"."""
    provider: str = ""
    key_id: str = ""
    dek_source_type: str = ""
    dek_source_hash: str = ""
    """sha256 of encryptedDEKSource: equal hashes mean the same seed/DEK (wrapped, never the key)."""
    size: int = 0
    error: str = ""

    def summary(self) -> str:
        if not self.present:
            return "absent"
        if not self.encrypted:
            return "plaintext (no k8s:enc: prefix)"
        parts = [self.prefix]
        if self.key_id:
            parts.append(f"key_id={self.key_id}")
        if self.dek_source_type:
            parts.append(self.dek_source_type)
        if self.error:
            parts.append(f"undecodable: {self.error}")
        return " ".join(parts)


def view_value(value: bytes | None) -> EnvelopeView:
    if value is None:
        return EnvelopeView(present=False)
    if not value.startswith(ENC_PREFIX):
        return EnvelopeView(present=True, size=len(value))
    if value.startswith(kmsv2_format.PREFIX_BYTES):
        try:
            name, obj = kmsv2_format.decode_value(value)
        except SandboxError as exc:
            return EnvelopeView(True, True, kmsv2_format.PREFIX, "kms-v2", size=len(value), error=str(exc))
        return EnvelopeView(
            present=True,
            encrypted=True,
            prefix=f"{kmsv2_format.PREFIX}{name}:",
            provider_type="kms-v2",
            provider=name,
            key_id=obj.key_id,
            dek_source_type=obj.dek_source_type_name,
            dek_source_hash=hashlib.sha256(obj.encrypted_dek_source).hexdigest()[:16],
            size=len(value),
        )
    if value.startswith(kmsv1_format.PREFIX_BYTES):
        try:
            name, edek, _ = kmsv1_format.split_v1_value(value)
        except SandboxError as exc:
            return EnvelopeView(True, True, kmsv1_format.PREFIX, "kms-v1", size=len(value), error=str(exc))
        return EnvelopeView(
            present=True,
            encrypted=True,
            prefix=f"{kmsv1_format.PREFIX}{name}:",
            provider_type="kms-v1",
            provider=name,
            dek_source_hash=hashlib.sha256(edek).hexdigest()[:16],
            size=len(value),
        )
    # k8s:enc:<type>:v1:<key name>:
    parts = value.split(b":", 5)
    if len(parts) >= 5:
        kind, name = parts[2].decode(errors="replace"), parts[4].decode(errors="replace")
        return EnvelopeView(True, True, f"k8s:enc:{kind}:v1:{name}:", kind, name, size=len(value))
    return EnvelopeView(True, True, "k8s:enc:", "unknown", size=len(value), error="unrecognised prefix")


def _matches(rule: str, resource: str) -> bool:
    return rule in (resource, f"{resource}.", "*.", "*.*")


def first_provider_prefix(config_yaml: str, resource: str = "secrets") -> str | None:
    """The prefix a write of `resource` gets under this config; None when it cannot be told."""
    if not config_yaml.strip():
        return None
    try:
        config: Any = yaml.safe_load(config_yaml)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    ranked: list[tuple[int, Any]] = []
    for entry in config.get("resources") or []:
        for rule in entry.get("resources") or []:
            if _matches(str(rule), resource):
                rank = 0 if str(rule).rstrip(".") == resource else (1 if rule == "*." else 2)
                ranked.append((rank, entry.get("providers") or []))
    if not ranked:
        return ""  # unmatched resources are stored by an identity transformer
    providers = min(ranked, key=lambda r: r[0])[1]
    if not providers or not isinstance(providers[0], dict):
        return None
    kind, body = next(iter(providers[0].items()))
    if kind == "identity":
        return ""
    if kind == "kms":
        version = "v2" if str((body or {}).get("apiVersion", "v1")) == "v2" else "v1"
        return f"k8s:enc:kms:{version}:{(body or {}).get('name', '')}:"
    keys = (body or {}).get("keys") or [{}]
    return f"k8s:enc:{kind}:v1:{keys[0].get('name', '')}:"
