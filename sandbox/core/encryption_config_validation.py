"""EncryptionConfiguration validation and load-time checks (kmsv2-spec.md 8.2, 8.3; VAL-1, CFG-3, CFG-6).

`validation_errors` reproduces ValidateEncryptionConfiguration's field errors, paths and order;
`check_loadable` the checks kube-apiserver makes while building transformers (feature gates,
then wildcard masking, entry by entry). Release-dependent rules take `minor` (Kubernetes 1.<minor>).
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping

from sandbox.core.encryption_config_model import (
    _PROVIDER_FIELDS,
    AES_KEY_SIZES,
    KMSV1_DEPRECATED,
    LATEST_MINOR,
    MORE_THAN_ONE_ERR,
    NO_PROVIDER_ERR,
    NON_REST_RESOURCES,
    SECRETBOX_KEY_SIZES,
    EncryptionConfig,
    KeyConfig,
    KMSConfig,
    ProviderConfig,
    parse_group_resource,
)
from sandbox.core.errors import ConfigError
from sandbox.core.go_text import format_go_duration, go_quote, parse_url_scheme


def _required(path: str, detail: str) -> str:
    return f"{path}: Required value: {detail}"


def _invalid(path: str, value: str, detail: str) -> str:
    return f"{path}: Invalid value: {value}: {detail}"


def _go_string_slice(items: tuple[str, ...]) -> str:
    return "[]string{" + ", ".join(go_quote(s) for s in items) + "}"


def _go_provider_struct(p: ProviderConfig) -> str:
    fields = []
    for name, go_name, go_type in _PROVIDER_FIELDS:
        ptr = "0xc000010000" if name in p.kinds else "nil"
        fields.append(f"{go_name}:(*apiserver.{go_type})({ptr})")
    return "apiserver.ProviderConfiguration{" + ", ".join(fields) + "}"


def _resource_list_errors(resources: tuple[str, ...], path: str) -> list[str]:
    errs: list[str] = []
    if len(resources) >= 2:
        parsed = [parse_group_resource(r) for r in resources]
        duplicate = overlap = False
        for i, r1 in enumerate(parsed):
            for j, r2 in enumerate(parsed):
                if i == j:
                    continue
                if r1 == r2 and not duplicate:
                    duplicate = True
                    continue
                if overlap:
                    continue
                if r1 == ("*", "*") or (r1[0] == r2[0] and "*" in (r1[1], r2[1])):
                    overlap = True
        value = _go_string_slice(resources)
        if duplicate:
            errs.append(_invalid(path, value, "the same resource cannot be specified multiple times"))
        if overlap:
            errs.append(
                _invalid(
                    path,
                    value,
                    "using overlapping resources such as 'secrets' and '*.' in the same resource list "
                    "is not allowed as they will be masked",
                )
            )
    for k, res in enumerate(resources):
        p, group = f"{path}[{k}]", parse_group_resource(res)[0]
        detail = None
        if res.lower() != res:
            detail = "resource name should not contain capital letters"
        elif res == "*":
            detail = (
                "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
            )
        elif res in NON_REST_RESOURCES:
            detail = "resources which do not have REST API/s cannot be encrypted"
        elif group == "events.k8s.io":
            detail = (
                "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. "
                "Use 'events' instead in the config file"
            )
        elif group == "extensions":
            detail = "'extensions' group has been removed and cannot be used for encryption"
        elif group == "*" and parse_group_resource(res)[1] != "*":
            detail = "encrypting the same resource across groups is not supported"
        if detail:
            errs.append(_invalid(p, go_quote(res), detail))
    return errs


def _key_errors(keys: tuple[KeyConfig, ...], path: str, sizes: tuple[int, ...]) -> list[str]:
    if not keys:
        return [_required(path, "at least one keys is required")]
    errs = []
    for k, key in enumerate(keys):
        p = f"{path}[{k}]"
        if not key.name:
            errs.append(_required(f"{p}.name", "name is a mandatory field for a key"))
        if not key.secret:
            errs.append(_required(f"{p}.secret", "secret is a mandatory field for a key"))
            continue
        try:
            secret = key.key_bytes
        except (binascii.Error, ValueError):
            errs.append(_invalid(f"{p}.secret", '"REDACTED"', "secrets must be base64 encoded"))
            continue
        if len(secret) not in sizes:
            expected = "[" + " ".join(str(s) for s in sizes) + "]"
            errs.append(
                _invalid(
                    f"{p}.secret",
                    '"REDACTED"',
                    f"secret is not of the expected length, got {len(secret)}, expected one of {expected}",
                )
            )
    return errs


def _kms_errors(c: KMSConfig, path: str, seen: set[str], reload: bool, minor: int) -> list[str]:
    errs = []
    if not c.name:
        errs.append(_required(f"{path}.name", "name is a mandatory field for a provider"))
    if c.api_version != "v1" and ":" in c.name:
        errs.append(
            _invalid(
                f"{path}.name", go_quote(c.name), f"invalid KMS provider name {c.name}, must not contain ':'"
            )
        )
    if (reload or c.api_version != "v1") and minor >= 26 and c.name in seen:
        errs.append(
            _invalid(
                f"{path}.name",
                go_quote(c.name),
                f"duplicate KMS provider name {c.name}, names must be unique",
            )
        )
    if c.timeout_seconds <= 0:
        errs.append(
            _invalid(
                f"{path}.timeout", format_go_duration(c.timeout_seconds), "timeout should be a positive value"
            )
        )
    errs.extend(_endpoint_errors(c.endpoint, f"{path}.endpoint"))
    if c.api_version != "v1" and c.cachesize is not None and minor >= 27:
        errs.append(_invalid(f"{path}.cachesize", str(c.cachesize), "cachesize is not supported in v2"))
    if c.api_version == "v1" and c.cachesize == 0:
        errs.append(
            _invalid(f"{path}.cachesize", "0", "cachesize should be a positive value, or negative to disable")
        )
    if c.api_version not in ("v1", "v2"):
        errs.append(
            _invalid(
                f"{path}.apiVersion",
                go_quote(c.api_version),
                "unsupported apiVersion apiVersion for KMS provider, only v1 and v2 are supported",
            )
        )
    return errs


def _endpoint_errors(endpoint: str, path: str) -> list[str]:
    if not endpoint:
        return [_invalid(path, '""', "endpoint is a mandatory field for a kms")]
    try:
        scheme = parse_url_scheme(endpoint)
    except ValueError as exc:
        return [_invalid(path, go_quote(endpoint), f"invalid endpoint for kms provider, error: {exc}")]
    if scheme != "unix":
        return [
            _invalid(
                path,
                go_quote(endpoint),
                f"unsupported scheme {go_quote(scheme)} for KMS provider, only unix is supported",
            )
        ]
    return []


def validation_errors(
    config: EncryptionConfig, *, reload: bool = False, minor: int = LATEST_MINOR
) -> list[str]:
    """ValidateEncryptionConfiguration: every field error, in upstream's order."""
    if not config.resources:
        return [_required("resources", "at least one resources is required")]
    errs: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(config.resources):
        r, p = f"resources[{i}].resources", f"resources[{i}].providers"
        if not entry.resources:
            errs.append(_required(r, f"at least one {r} is required"))
        errs.extend(_resource_list_errors(entry.resources, r))
        if not entry.providers:
            errs.append(_required(p, f"at least one {p} is required"))
        for j, provider in enumerate(entry.providers):
            path = f"{p}[{j}]"
            if not provider.kinds:
                errs.append(
                    _invalid(
                        path,
                        _go_provider_struct(provider),
                        NO_PROVIDER_ERR,
                    )
                )
            elif len(provider.kinds) > 1:
                errs.append(
                    _invalid(
                        path,
                        _go_provider_struct(provider),
                        MORE_THAN_ONE_ERR,
                    )
                )
            if provider.kms is not None:
                errs.extend(_kms_errors(provider.kms, f"{path}.kms", seen, reload, minor))
                seen.add(provider.kms.name)
            elif provider.kinds and provider.kinds[0] in ("aesgcm", "aescbc", "secretbox"):
                sizes = SECRETBOX_KEY_SIZES if provider.kinds[0] == "secretbox" else AES_KEY_SIZES
                errs.extend(_key_errors(provider.keys, f"{path}.{provider.kinds[0]}.keys", sizes))
    return errs


# --- load-time checks, resolution and hashing ------------------------------------------------


def _gate(feature_gates: Mapping[str, bool] | None, name: str, default: bool) -> bool:
    return bool((feature_gates or {}).get(name, default))


def _gr_yaml(group: str, resource: str) -> str:
    if group == "" and resource == "*":
        return "*."
    return f"{resource}.{group}" if group else resource


def check_loadable(
    config: EncryptionConfig, *, minor: int = LATEST_MINOR, feature_gates: Mapping[str, bool] | None = None
) -> None:
    """Feature gates per provider, then wildcard masking, entry by entry (config.go order)."""
    seen: set[tuple[str, str]] = set()
    for entry in config.resources:
        for provider in entry.providers:
            kms = provider.kms
            if kms is None:
                continue
            if kms.api_version == "v1" and not _gate(feature_gates, "KMSv1", minor <= 28):
                raise ConfigError(KMSV1_DEPRECATED)
            if kms.api_version == "v2" and not _gate(feature_gates, "KMSv2", minor >= 27):
                raise ConfigError(
                    f"could not configure KMSv2 plugin {go_quote(kms.name)}, KMSv2 feature is not enabled"
                )
        for res in entry.resources:
            group, resource = parse_group_resource(res)
            for rule in ((group, "*"), ("*", "*")):
                if rule in seen:
                    raise ConfigError(
                        f"resource {go_quote(_gr_yaml(group, resource))} is masked by earlier rule "
                        f"{go_quote(_gr_yaml(*rule))}"
                    )
        seen.update(parse_group_resource(res) for res in entry.resources)
