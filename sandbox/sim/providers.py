"""Builds one apiserver's transformers from an EncryptionConfiguration (spec 4.7, 6, 8).

`build_providers` turns a validated config into a `ProviderSet`: a `PrefixChain` per resource
rule, the KMS links and probes (one per `kms` entry, in file order, as upstream builds one
service per configured provider), and the health checks the apiserver registers for them.
Priming (the inline first probe of each v2 provider) is `ProviderSet.prime()`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sandbox.core.encryption_config import EncryptionConfig, ProviderConfig, provider_chain_for
from sandbox.core.events import Event
from sandbox.core.local_providers import DECRYPT, ENCRYPT
from sandbox.core.releases import ReleaseProfile
from sandbox.core.validation import aggregate
from sandbox.sim.clock import Clock
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.envelope_v1 import KmsV1Probe, KmsV1Transformer
from sandbox.sim.envelope_v2 import KmsV2Transformer
from sandbox.sim.kms_link import KmsV1Link, KmsV2Link
from sandbox.sim.kmsv2_probe import KmsV2Probe
from sandbox.sim.transformers import (
    IdentityTransformer,
    PrefixChain,
    PrefixEntry,
    Recorder,
    SyncTransformer,
    Transformer,
)

Check = Callable[[], Awaitable[str | None]]
"""A health check: None when healthy, else its error text."""

RESOURCE_GROUPS: Mapping[str, str] = {"secrets": "", "configmaps": ""}


@dataclass
class ProviderSet:
    """Everything one loaded config gives an apiserver."""

    config: EncryptionConfig
    chains: dict[str, PrefixChain]
    kms_checks: list[tuple[str, Check]] = field(default_factory=list)
    """(`kms-provider-<i>`, check) in file order; merged into `kms-providers` when appropriate."""
    v2_probes: list[KmsV2Probe] = field(default_factory=list)
    transformers: list[Transformer] = field(default_factory=list)
    only_v2: bool = True

    async def prime(self) -> None:
        for probe in self.v2_probes:
            await probe.prime()

    async def close(self) -> None:
        for transformer in self.transformers:
            await transformer.close()

    def chain(self, resource: str) -> PrefixChain:
        return self.chains[resource]

    def kms_transformers(self) -> list[Transformer]:
        return [t for t in self.transformers if isinstance(t, KmsV1Transformer | KmsV2Transformer)]


@dataclass(frozen=True)
class BuildContext:
    release: ReleaseProfile
    clock: Clock
    metrics: ApiserverMetrics
    emit: Callable[[Event], None]
    source: str
    feature_gates: Mapping[str, bool]
    fail_fast_when_down: bool


def _local_entries(provider: ProviderConfig) -> list[PrefixEntry]:
    """aescbc / aesgcm / secretbox: one prefix entry per key, in key order."""
    kind = provider.kind
    encrypt, decrypt = ENCRYPT[kind], DECRYPT[kind]
    entries = []
    for key in provider.keys:
        secret = key.key_bytes

        def enc(plaintext: bytes, aad: bytes, k: bytes = secret) -> bytes:
            return encrypt(k, plaintext, aad)

        def dec(data: bytes, aad: bytes, k: bytes = secret) -> bytes:
            return decrypt(k, data, aad)

        entries.append(
            PrefixEntry(
                f"k8s:enc:{kind}:v1:{key.name}:".encode(), SyncTransformer(f"{kind}/{key.name}", enc, dec)
            )
        )
    return entries


def build_providers(config: EncryptionConfig, ctx: BuildContext, resources: tuple[str, ...]) -> ProviderSet:
    """Transformers for `resources` (e.g. secrets, configmaps); KMS providers are built once each."""
    built: dict[int, tuple[PrefixEntry, ...]] = {}
    provider_set = ProviderSet(config=config, chains={})
    kms_index = 0
    # File order: provider i of the health checks counts KMS entries across the whole file.
    for rule in config.resources:
        for provider in rule.providers:
            if id(provider) in built:
                continue
            if provider.kind == "kms" and provider.kms is not None:
                check_name = f"kms-provider-{kms_index}"
                kms_index += 1
                entry = _kms_entry(provider, ctx, provider_set, check_name)
                built[id(provider)] = (entry,)
            elif provider.kind == "identity":
                built[id(provider)] = (PrefixEntry(b"", IdentityTransformer()),)
            else:
                entries = _local_entries(provider)
                provider_set.transformers.extend(e.transformer for e in entries)
                built[id(provider)] = tuple(entries)
    for resource in resources:
        chain_entries: list[PrefixEntry] = []
        for provider in provider_chain_for(config, resource, RESOURCE_GROUPS.get(resource, "")):
            chain_entries.extend(built.get(id(provider), (PrefixEntry(b"", IdentityTransformer()),)))
        recorder: Recorder = _recorder(ctx.metrics, resource)
        provider_set.chains[resource] = PrefixChain(chain_entries, recorder)
    return provider_set


def _recorder(metrics: ApiserverMetrics, resource: str) -> Recorder:
    def record(kind: str, prefix: str, status: str) -> None:
        metrics.record_transformation(resource, kind, prefix, status)

    return record


def _kms_entry(provider: ProviderConfig, ctx: BuildContext, out: ProviderSet, check_name: str) -> PrefixEntry:
    kms = provider.kms
    assert kms is not None
    if kms.api_version == "v2":
        link = KmsV2Link(
            kms.name,
            kms.endpoint,
            package=ctx.release.plugin_package,
            timeout=kms.timeout_seconds,
            metrics=ctx.metrics,
            fail_fast_when_down=ctx.fail_fast_when_down,
        )
        probe = KmsV2Probe(
            kms.name,
            link,
            clock=ctx.clock,
            release=ctx.release,
            metrics=ctx.metrics,
            emit=ctx.emit,
            source=ctx.source,
            feature_gates=ctx.feature_gates,
        )
        transformer = KmsV2Transformer(
            kms.name,
            probe,
            link,
            clock=ctx.clock,
            release=ctx.release,
            metrics=ctx.metrics,
            emit=ctx.emit,
            source=ctx.source,
            cachesize=kms.cachesize or 1000,
        )
        out.v2_probes.append(probe)
        out.kms_checks.append((check_name, probe.check))
        out.transformers.append(transformer)
        return PrefixEntry(f"k8s:enc:kms:v2:{kms.name}:".encode(), transformer)
    out.only_v2 = False
    v1_link = KmsV1Link(
        kms.name,
        kms.endpoint,
        timeout=kms.timeout_seconds,
        metrics=ctx.metrics,
        fail_fast_when_down=ctx.fail_fast_when_down,
    )
    v1 = KmsV1Transformer(
        kms.name,
        v1_link,
        clock=ctx.clock,
        metrics=ctx.metrics,
        emit=ctx.emit,
        source=ctx.source,
        cachesize=kms.cachesize if kms.cachesize is not None else 1000,
    )
    v1_probe = KmsV1Probe(kms.name, v1_link, clock=ctx.clock, emit=ctx.emit, source=ctx.source)
    out.kms_checks.append((check_name, v1_probe.check))
    out.transformers.append(v1)
    return PrefixEntry(f"k8s:enc:kms:v1:{kms.name}:".encode(), v1)


def merged_check(checks: list[tuple[str, Check]]) -> Check:
    """`kms-providers`: every probe, errors joined as `kms-provider-<i>: <err>`."""

    async def check() -> str | None:
        errors = []
        for name, probe_check in checks:
            error = await probe_check()
            if error is not None:
                errors.append(f"{name}: {error}")
        return aggregate(errors) if errors else None

    return check
