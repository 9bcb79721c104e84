"""What a scenario can say about a stored value: a thin view over the core inspector.

Decoding lives in `sandbox.core.inspect` (prefixes, EncryptedObject, KMS v1 and local-provider
layouts); this module only flattens an `InspectReport` into the few fields expectations compare
and reports save. The payload is never decrypted here and no plaintext or key material is kept:
`dek_source_hash` is a hash of the *wrapped* DEK/seed, enough to count distinct seeds.

`first_provider_prefix` asks the core EncryptionConfiguration model which prefix a write would
use now, which is what decides staleness on the provider level (spec 4.6, 4.7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sandbox.core.encryption_config import decode_encryption_config, provider_chain_for
from sandbox.core.errors import SandboxError
from sandbox.core.inspect import inspect_value
from sandbox.core.prefixes import describe_prefix


@dataclass(frozen=True)
class EnvelopeView:
    present: bool
    encrypted: bool = False
    prefix: str = ""
    """The `k8s:enc:<type>:<version>:<name>:` prefix, "" for plaintext."""
    provider_type: str = "identity"
    """"kms-v2", "kms-v1", "aescbc", "aesgcm", "secretbox", "identity" or "unknown"."""
    provider: str = ""
    key_id: str = ""
    dek_source_type: str = ""
    dek_source_hash: str = ""
    """sha256 of encryptedDEKSource: equal hashes mean the same seed/DEK (wrapped, never the key)."""
    size: int = 0
    error: str = ""
    """Why the value could not be decoded at all ("" when it could)."""
    invalid: str = ""
    """What the apiserver's EncryptedObject validation says about it ("" when valid)."""

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
        elif self.invalid:
            parts.append(f"invalid: {self.invalid}")
        return " ".join(parts)


def view_value(value: bytes | None) -> EnvelopeView:
    """The envelope metadata of a stored value (None: the key is not in etcd)."""
    if value is None:
        return EnvelopeView(present=False)
    try:
        report = inspect_value(value)
    except SandboxError as exc:  # a damaged envelope: say what it claims to be, and why it is not
        info = describe_prefix(value)
        return EnvelopeView(
            True, info.kind != "identity", info.prefix, info.kind, info.name, size=len(value), error=str(exc)
        )
    source = report.encrypted_dek_source
    return EnvelopeView(
        present=True,
        encrypted=report.encrypted,
        prefix=report.prefix,
        provider_type=report.kind,
        provider=report.provider,
        key_id=report.key_id or "",
        dek_source_type=report.dek_source_type or "",
        dek_source_hash=hashlib.sha256(source).hexdigest()[:16] if source else "",
        size=report.size,
        error="unrecognised prefix" if report.kind == "unknown" else "",
        invalid=report.validation_error or "",
    )


def first_provider_prefix(config_yaml: str, resource: str = "secrets") -> str | None:
    """The prefix a write of `resource` gets under this config; None when it cannot be told."""
    if not config_yaml.strip():
        return None
    try:
        config = decode_encryption_config(config_yaml)
    except SandboxError:
        return None
    providers = provider_chain_for(config, resource)
    return providers[0].prefix if providers else None
