"""EncryptionConfiguration: load, resolve and hash (kmsv2-spec.md 8, 4.7, 4.9).

`load_encryption_config(text, minor=..., feature_gates=...)` does what kube-apiserver does with
`--encryption-provider-config` for Kubernetes 1.<minor>: decode (strictly since 1.31), apply
defaults (kms apiVersion v1, timeout 3s, v1 cachesize 1000), run the validation table with
upstream's paths and messages, then the load-time checks (feature gates, wildcard masking).
Failures raise `ConfigError` whose text is upstream's, field errors aggregated like
`field.ErrorList.ToAggregate()` (one error bare, several as `[e1, e2]`).

The model lives in `encryption_config_model`, the rules in `encryption_config_validation`; this
module is the public face and re-exports both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sandbox.core.encryption_config_model import (
    API_VERSION,
    IDENTITY,
    KIND,
    LATEST_MINOR,
    EncryptionConfig,
    KeyConfig,
    KMSConfig,
    ProviderConfig,
    ResourceConfig,
    decode_encryption_config,
    parse_group_resource,
)
from sandbox.core.encryption_config_validation import check_loadable, validation_errors
from sandbox.core.errors import ConfigError
from sandbox.core.validation import aggregate


def load_encryption_config(
    text: str | bytes,
    *,
    minor: int = LATEST_MINOR,
    feature_gates: Mapping[str, bool] | None = None,
    reload: bool = False,
    path: str = "",
) -> EncryptionConfig:
    """Decode, validate and check a config as kube-apiserver 1.<minor> would; ConfigError on failure."""
    config = decode_encryption_config(text, minor=minor, path=path)
    errs = validation_errors(config, reload=reload, minor=minor)
    if errs:
        raise ConfigError(aggregate(errs), field_errors=errs)
    check_loadable(config, minor=minor, feature_gates=feature_gates)
    return config


parse_encryption_config = load_encryption_config
"""Alias: YAML text -> validated model."""


def provider_chain_for(config: EncryptionConfig, resource: str, group: str = "") -> list[ProviderConfig]:
    """Providers for `resource.group`: exact rule, then `*.<group>`, then `*.*`, else identity."""
    table: dict[tuple[str, str], list[ProviderConfig]] = {}
    for entry in config.resources:
        for res in entry.resources:
            table.setdefault(parse_group_resource(res), []).extend(entry.providers)
    for key in ((group, resource), (group, "*"), ("*", "*")):
        if key in table:
            return list(table[key])
    return [IDENTITY]


def kms_timeout_sum(config: EncryptionConfig) -> float:
    """Σ v2 timeouts + 2 × Σ v1 timeouts (v1 makes two calls per probe)."""
    return sum(k.timeout_seconds * (1 if k.api_version == "v2" else 2) for k in config.kms_providers)


def kms_close_grace_period(config: EncryptionConfig) -> float:
    """Seconds before old transformers close after a reload (and the new-config health wait)."""
    return 2 * kms_timeout_sum(config)


def config_hash(text: str | bytes, minor: int = LATEST_MINOR) -> str:
    """The reload hash of the file content: `k8s:enc:unstable:1:<hex>` to 1.33, `sha256:<hex>` since."""
    raw = text.encode() if isinstance(text, str) else text
    digest = hashlib.sha256(raw).hexdigest()
    return f"sha256:{digest}" if minor >= 34 else f"k8s:enc:unstable:1:{digest}"


__all__ = [
    "API_VERSION",
    "IDENTITY",
    "KIND",
    "LATEST_MINOR",
    "EncryptionConfig",
    "KMSConfig",
    "KeyConfig",
    "ProviderConfig",
    "ResourceConfig",
    "check_loadable",
    "config_hash",
    "decode_encryption_config",
    "kms_close_grace_period",
    "kms_timeout_sum",
    "load_encryption_config",
    "parse_encryption_config",
    "provider_chain_for",
    "validation_errors",
]
