"""`SimApiserver`: kube-apiserver's storage and encryption layer, simulated (kmsv2-spec.md 4, 6, 7).

It serves Secrets and ConfigMaps the way the real apiserver stores them: the object is encoded
(`k8s\\x00` protobuf), passed through the resource's provider chain, and written to the shared
in-memory etcd under `<prefix>/<resource>/<namespace>/<name>`. Results look like HTTP answers:
transformer failures are `500 InternalError` with `Internal error occurred: <error>`.

Each apiserver has its own providers (own gRPC connection to its plugin, own probe, write state
and DEK cache), so several `SimApiserver`s on one `MemoryStore` behave like an HA control plane.
A restart drops all of that and primes again. The configuration file is re-read automatically
(see `sandbox.sim.reload`). Everything observable is published on the `EventBus`.
"""

from __future__ import annotations

import builtins
import dataclasses
import uuid
from collections.abc import Mapping

from sandbox.core.encryption_config import EncryptionConfig, config_hash, load_encryption_config
from sandbox.core.errors import SandboxError
from sandbox.core.events import (
    ApiserverLifecycle,
    Event,
    EventBus,
    HealthChanged,
    StorageDeleted,
    StorageRead,
    StorageWritten,
)
from sandbox.core.k8s_objects import StoredObject, decode_object, encode_object
from sandbox.sim.api_types import (
    KINDS,
    RELOAD_HOOK,
    RESOURCES,
    ApiResponse,
    ApiserverSettings,
    ApiserverStartError,
    internal_error,
    list_read_error,
    read_error,
)
from sandbox.sim.clock import Clock
from sandbox.sim.envelope_metrics import ApiserverMetrics
from sandbox.sim.health import HealthAnswer, answer
from sandbox.sim.providers import BuildContext, Check, ProviderSet, build_providers, merged_check
from sandbox.sim.store import KeyValue, MemoryStore, normalize_prefix
from sandbox.sim.system_objects import write_system_objects
from sandbox.sim.transformers import ReadResult, TransformError
from sandbox.sim.watch_cache import InitialLister


class SimApiserver:
    """One simulated kube-apiserver sharing `store` with its peers."""

    def __init__(
        self, settings: ApiserverSettings, store: MemoryStore, clock: Clock, events: EventBus
    ) -> None:
        self.settings = settings
        self.release = settings.release
        self.store = store
        self.clock = clock
        self.events = events
        self.index = settings.index
        self.source = f"apiserver-{settings.index}"
        self.prefix = normalize_prefix(settings.storage_prefix)
        self.apiserver_id = settings.apiserver_id or f"sim-apiserver-{settings.index}"
        self.feature_gates = dict(settings.feature_gates)
        self.metrics = ApiserverMetrics(self.release, self.apiserver_id)
        self.providers: ProviderSet | None = None
        self.config_text = ""
        self.config_hash = ""
        self.running = False
        self.start_error = ""
        self._health: dict[str, bool] = {}
        self._unwatch = store.watch_async(self._watch_cache_decode)
        from sandbox.sim.reload import ConfigReloader  # reload builds providers like start does

        self.reloader = ConfigReloader(self)
        self.watch_cache = InitialLister(self, RESOURCES)

    # --- lifecycle -----------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.events.publish(event)

    def load_config(self) -> tuple[str, EncryptionConfig]:
        """Reads and validates the config file as this release would; ApiserverStartError on failure."""
        path = self.settings.config_path
        try:
            text = path.read_text()
        except OSError:
            raise ApiserverStartError(
                f'error reading encryption provider configuration file "{path}"'
            ) from None
        if not text.strip():
            raise ApiserverStartError(f'encryption provider configuration file "{path}" is empty')
        try:
            config = load_encryption_config(
                text,
                minor=self.release.minor,
                feature_gates=self.feature_gates,
                reload=self.settings.automatic_reload,
                path=str(path),
            )
        except SandboxError as exc:
            raise ApiserverStartError(str(exc)) from None
        return text, config

    def build(self, config: EncryptionConfig) -> ProviderSet:
        ctx = BuildContext(
            release=self.release,
            clock=self.clock,
            metrics=self.metrics,
            emit=self.emit,
            source=self.source,
            feature_gates=self.feature_gates,
            fail_fast_when_down=self.settings.fail_fast_when_down,
        )
        return build_providers(config, ctx, RESOURCES)

    async def start(self) -> None:
        """Loads the config, builds the transformers and primes each KMS v2 provider inline.

        Then the watch caches make their initial LIST (`sandbox.sim.watch_cache`); `start`
        returns after that first attempt, successful or not, and failed LISTs retry on the clock.
        """
        try:
            text, config = self.load_config()
        except ApiserverStartError as exc:
            self.start_error = str(exc)
            self.running = False
            self.emit(
                ApiserverLifecycle(
                    time=self.clock.now(), source=self.source, action="failed", detail=str(exc)
                )
            )
            raise
        providers = self.build(config)
        await providers.prime()
        self.providers = providers
        self.config_text = text
        self.config_hash = config_hash(text, self.release.minor)
        self.metrics.record_config_info(self.config_hash)
        self.running = True
        self.start_error = ""
        self.reloader.start()
        self.emit(
            ApiserverLifecycle(
                time=self.clock.now(),
                source=self.source,
                action="started",
                detail=f"Kubernetes {self.release.name}"
                + (f" (modelled as {self.release.modelled_as})" if self.release.note else ""),
            )
        )
        # Controllers create their kube-system ConfigMaps (here a failure waits for the next start).
        await write_system_objects(self)
        if self.settings.watch_cache:
            # The watch caches' initial LIST decodes everything now, before any client read.
            await self.watch_cache.start()
        # Its loopback client asks its own /readyz while starting (seen on v1.37.2): a KMS v1
        # provider pays one ping Encrypt + Decrypt per start; a primed v2 probe answers from cache.
        await self.health("/readyz")

    async def stop(self) -> None:
        self.reloader.stop()
        self.watch_cache.stop()
        if self.providers is not None:
            await self.providers.close()
        self.providers = None
        self.running = False
        self._health.clear()

    async def restart(self) -> None:
        """A new process: caches, write state and metrics are gone; the first probe primes again."""
        await self.stop()
        self.metrics = ApiserverMetrics(self.release, self.apiserver_id)
        self.emit(ApiserverLifecycle(time=self.clock.now(), source=self.source, action="restarting"))
        await self.start()

    async def close(self) -> None:
        await self.stop()
        self._unwatch()

    def set_feature_gates(self, gates: Mapping[str, bool]) -> None:
        """Changes gates (e.g. KMSv2KDF on 1.28); running probes use them from their next rotation."""
        self.feature_gates = dict(gates)
        if self.providers is not None:
            for probe in self.providers.v2_probes:
                probe.set_feature_gates(gates)

    # --- objects -------------------------------------------------------------------------------

    def key_for(self, resource: str, namespace: str, name: str) -> str:
        return f"{self.prefix}/{resource}/{namespace}/{name}"  # object_key() with the prefix normalised

    def _unavailable(self) -> ApiResponse | None:
        if self.running and self.providers is not None:
            return None
        detail = self.start_error or "the apiserver is not running"
        return ApiResponse(503, "ServiceUnavailable", f"The connection to the server was refused: {detail}")

    async def read_value(self, resource: str, kv: KeyValue) -> tuple[ReadResult | None, str]:
        assert self.providers is not None
        try:
            result = await self.providers.chain(resource).read(kv.value, kv.key.encode())
        except TransformError as exc:
            self.emit(
                StorageRead(time=self.clock.now(), source=self.source, key=kv.key, ok=False, error=str(exc))
            )
            return None, str(exc)
        self.emit(
            StorageRead(
                time=self.clock.now(), source=self.source, key=kv.key, prefix=result.prefix,
                provider=result.provider, key_id=result.key_id, stale=result.stale,
                dek_cache_hit=result.dek_cache_hit,
            )
        )  # fmt: skip
        return result, ""

    async def _write(self, resource: str, key: str, obj: StoredObject) -> tuple[KeyValue | None, str]:
        assert self.providers is not None
        try:
            result = await self.providers.chain(resource).write(encode_object(obj), key.encode())
        except TransformError as exc:
            self.emit(
                StorageWritten(time=self.clock.now(), source=self.source, key=key, ok=False, error=str(exc))
            )
            return None, str(exc)
        kv = self.store.put(key, result.value)
        self.emit(
            StorageWritten(
                time=self.clock.now(), source=self.source, key=key, resource_version=kv.mod_revision,
                prefix=result.prefix, provider=result.provider, key_id=result.key_id,
                dek_source_type=result.dek_source_type, size=len(result.value),
            )
        )  # fmt: skip
        await self.store.deliver(kv)
        return kv, ""

    async def _watch_cache_decode(self, kv: KeyValue) -> None:
        """The watch cache decodes every new value; failures only show up in metrics and events."""
        if not self.settings.watch_cache or self.providers is None or not self.running:
            return
        resource = kv.key[len(self.prefix) + 1 :].split("/", 1)[0]
        if resource not in RESOURCES:
            return
        try:
            await self.providers.chain(resource).read(kv.value, kv.key.encode())
        except TransformError:
            pass

    async def create(
        self, resource: str, namespace: str, name: str, data: Mapping[str, bytes]
    ) -> ApiResponse:
        if (down := self._unavailable()) is not None:
            return down
        key = self.key_for(resource, namespace, name)
        if self.store.get(key) is not None:
            return ApiResponse(409, "AlreadyExists", f'{resource} "{name}" already exists')
        obj = StoredObject(
            kind=KINDS[resource], namespace=namespace, name=name, uid=str(uuid.uuid4()),
            creation_timestamp=int(self.clock.now()), data=dict(data),
            type="Opaque" if resource == "secrets" else "",
        )  # fmt: skip
        kv, error = await self._write(resource, key, obj)
        if kv is None:
            return internal_error(error)
        return ApiResponse(201, resource_version=str(kv.mod_revision), data=dict(data))

    async def _get(self, resource: str, key: str, name: str) -> tuple[ApiResponse, StoredObject | None, bool]:
        kv = self.store.get(key)
        if kv is None:
            return ApiResponse(404, "NotFound", f'{resource} "{name}" not found'), None, False
        result, error = await self.read_value(resource, kv)
        if result is None:
            return read_error(self.release, key[len(self.prefix) :], error), None, False
        try:
            obj = decode_object(result.plaintext)
        except SandboxError as exc:
            return internal_error(str(exc)), None, False
        return (
            ApiResponse(200, resource_version=str(kv.mod_revision), data=dict(obj.data), stale=result.stale),
            obj,
            result.stale,
        )

    async def get(self, resource: str, namespace: str, name: str) -> ApiResponse:
        if (down := self._unavailable()) is not None:
            return down
        response, _, _ = await self._get(resource, self.key_for(resource, namespace, name), name)
        return response

    async def update(
        self, resource: str, namespace: str, name: str, data: Mapping[str, bytes] | None = None
    ) -> ApiResponse:
        """PUT. Unchanged data that is not stale is not written (resourceVersion unchanged)."""
        if (down := self._unavailable()) is not None:
            return down
        key = self.key_for(resource, namespace, name)
        current, obj, stale = await self._get(resource, key, name)
        if obj is None:
            return current
        new_data = dict(obj.data) if data is None else dict(data)
        if new_data == dict(obj.data) and not stale:
            return ApiResponse(200, resource_version=current.resource_version, data=new_data)
        kv, error = await self._write(resource, key, dataclasses.replace(obj, data=new_data))
        if kv is None:
            return internal_error(error)
        return ApiResponse(200, resource_version=str(kv.mod_revision), data=new_data)

    async def delete(self, resource: str, namespace: str, name: str) -> ApiResponse:
        if (down := self._unavailable()) is not None:
            return down
        key = self.key_for(resource, namespace, name)
        current, obj, _ = await self._get(resource, key, name)
        if obj is None:
            return current
        self.store.delete(key)
        self.emit(StorageDeleted(time=self.clock.now(), source=self.source, key=key))
        return ApiResponse(200, resource_version=current.resource_version)

    async def list(self, resource: str, namespace: str | None = None) -> ApiResponse:
        """LIST decodes every object; one failure fails the whole list, as upstream."""
        if (down := self._unavailable()) is not None:
            return down
        prefix = f"{self.prefix}/{resource}/" + (f"{namespace}/" if namespace else "")
        items = []
        for kv in self.store.range(prefix):
            result, error = await self.read_value(resource, kv)
            if result is None:
                return list_read_error(self.release, resource, error)
            items.append(kv.key[len(self.prefix) + len(resource) + 2 :])
        return ApiResponse(200, items=tuple(items), resource_version=str(self.store.revision))

    async def migrate(self, resources: tuple[str, ...] = ("secrets",)) -> tuple[int, int, builtins.list[str]]:
        """`kubectl get -o json | kubectl replace -f -`: returns (total, rewritten, failures)."""
        total, rewritten, failed = 0, 0, []
        for resource in resources:
            for key in self.store.keys(f"{self.prefix}/{resource}/"):
                namespace, name = key[len(self.prefix) + len(resource) + 2 :].split("/", 1)
                total += 1
                before = self.store.get(key)
                response = await self.update(resource, namespace, name)
                if not response.ok:
                    failed.append(f"{namespace}/{name}: {response.message}")
                elif before is not None and response.resource_version != str(before.mod_revision):
                    rewritten += 1
        return total, rewritten, failed

    # --- health and metrics --------------------------------------------------------------------

    def kms_checks(self) -> builtins.list[tuple[str, Check]]:
        """The KMS checks registered on healthz/readyz (and livez before 1.29), spec 6."""
        if self.providers is None:
            return []
        checks = self.providers.kms_checks
        merge = self.release.merged_kms_check and (
            self.settings.automatic_reload or (self.providers.only_v2 and bool(checks))
        )
        if merge:
            return [("kms-providers", merged_check(checks))]
        return list(checks)

    async def health(self, path: str = "/healthz/kms-providers") -> HealthAnswer:
        if not self.running:
            return HealthAnswer(503, f"The connection to the server was refused: {self.start_error}\n")
        hooks = (RELOAD_HOOK,) if self.reloader.enabled else ()
        return await answer(
            path,
            self.kms_checks(),
            kms_on_livez=self.release.kms_on_livez,
            on_result=self._seen,
            post_start_hooks=hooks,
        )

    def _seen(self, endpoint: str, check: str, error: str | None) -> None:
        ok = error is None
        if check in ("ping", "log", "etcd", "etcd-readiness", "shutdown") or self._health.get(check) == ok:
            return
        self._health[check] = ok
        self.emit(
            HealthChanged(time=self.clock.now(), source=self.source, check=check, ok=ok, text=error or "ok")
        )

    def metrics_text(self) -> str:
        return self.metrics.exposition()

    def reset_metrics(self) -> None:
        """`DELETE /metrics`, as upstream's integration tests do right after start."""
        self.metrics.registry.reset()

    def dek_cache_sizes(self) -> dict[str, int]:
        if self.providers is None:
            return {}
        out: dict[str, int] = {}
        for transformer in self.providers.kms_transformers():
            out[transformer.provider] = len(transformer.cache)  # type: ignore[attr-defined]
        return out
