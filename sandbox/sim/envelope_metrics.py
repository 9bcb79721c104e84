"""The apiserver's encryption metrics, upstream names and labels (kmsv2-spec.md section 7).

One `ApiserverMetrics` per simulated apiserver. Which series exist depends on the release
(`ReleaseProfile`): e.g. `apiserver_id_hash` labels appear in 1.29, `dek_source_cache_size` in
1.29, the `resource` label of transformation operations in 1.32, the reload counters change in
1.30 and 1.34. Hash labels are `sha256:<hex>`, "" for empty input, as upstream.
"""

from __future__ import annotations

from collections import OrderedDict

from sandbox.core.hashing import key_id_hash
from sandbox.core.releases import ReleaseProfile
from sandbox.sim.metrics import LabelValues, Registry, exponential_buckets

ENVELOPE = "apiserver_envelope_encryption_"
STORAGE = "apiserver_storage_"
RELOAD = "apiserver_encryption_config_controller_"
KEY_ID_LABEL_SETS = 100
"""Upstream keeps key_id label sets in LRUs of 100 entries; an evicted set's series is deleted."""


class ApiserverMetrics:
    """The registry of one simulated apiserver, with helpers named after upstream's recorders."""

    def __init__(self, release: ReleaseProfile, apiserver_id: str) -> None:
        self.release = release
        self.apiserver_id_hash = key_id_hash(apiserver_id) if release.apiserver_id_hash_label else ""
        self.registry = r = Registry()
        key_labels: tuple[str, ...] = ("transformation_type", "provider_name", "key_id_hash")
        status_labels: tuple[str, ...] = ("provider_name", "key_id_hash")
        if release.apiserver_id_hash_label:
            key_labels += ("apiserver_id_hash",)
            status_labels += ("apiserver_id_hash",)
        self.key_id_hash_total = r.counter(
            ENVELOPE + "key_id_hash_total",
            "Number of times a keyID is used split by transformation type.",
            key_labels,
        )
        self.key_id_hash_last = r.gauge(
            ENVELOPE + "key_id_hash_last_timestamp_seconds",
            "The last time in seconds when a keyID was used.",
            key_labels,
        )
        self.key_id_hash_status_last = r.gauge(
            ENVELOPE + "key_id_hash_status_last_timestamp_seconds",
            "The last time in seconds when a keyID was returned by the Status RPC call.",
            status_labels,
        )
        self.invalid_key_id = r.counter(
            ENVELOPE + "invalid_key_id_from_status_total",
            "Number of times an invalid keyID is returned by the Status RPC call split by error.",
            ("provider_name", "error"),
        )
        self.kms_latency = r.histogram(
            ENVELOPE + "kms_operations_latency_seconds",
            "KMS operation duration with gRPC error code status total.",
            ("provider_name", "method_name", "grpc_status_code"),
            exponential_buckets(0.0001, 2, 20),
        )
        self.dek_source_cache_size = r.gauge(
            ENVELOPE + "dek_source_cache_size",
            "Number of records in data encryption key (DEK) source cache. On a restart, this value is an "
            "approximation of the number of decrypt RPC calls the server will make to the KMS plugin.",
            ("provider_name",),
        )
        self.dek_cache_fill_percent = r.gauge(
            ENVELOPE + "dek_cache_fill_percent",
            "Percent of the cache slots currently occupied by cached DEKs.",
        )
        ops_labels: tuple[str, ...] = ("transformation_type", "transformer_prefix", "status")
        if release.transformation_resource_label:
            ops_labels = ("resource", *ops_labels)
        self.transformation_ops = r.counter(
            STORAGE + "transformation_operations_total",
            "Total number of transformations. Successful transformation will have a status 'OK' and a varied "
            "status string when the transformation fails.",
            ops_labels,
        )
        self.cache_misses = r.counter(
            STORAGE + "envelope_transformation_cache_misses_total",
            "Total number of cache misses while accessing key decryption key(KEK).",
        )
        reload_labels: tuple[str, ...] = (
            ("status", "apiserver_id_hash") if release.apiserver_id_hash_label else ("status",)
        )
        self.reloads_total = r.counter(
            RELOAD + "automatic_reloads_total",
            "Total number of reload successes and failures of encryption configuration split by apiserver "
            "identity.",
            ("status", "apiserver_id_hash"),
        )
        self.reload_last = r.gauge(
            RELOAD + "automatic_reload_last_timestamp_seconds",
            "Timestamp of the last successful or failed automatic reload of encryption configuration "
            "split by apiserver identity.",
            reload_labels,
        )
        self.reload_success = r.counter(
            RELOAD + "automatic_reload_success_total",
            "(Deprecated since 1.30.0) Total number of successful automatic reloads of encryption "
            "configuration.",
        )
        self.reload_failures = r.counter(
            RELOAD + "automatic_reload_failures_total",
            "(Deprecated since 1.30.0) Total number of failed automatic reloads of encryption configuration.",
        )
        self.last_config_info = r.gauge(
            RELOAD + "last_config_info",
            "Information about the last applied encryption configuration with hash as label, split by "
            "apiserver identity.",
            ("apiserver_id_hash", "hash"),
        )
        self._key_id_sets: OrderedDict[LabelValues, None] = OrderedDict()
        """key_id_hash_total label sets in least-recently-used order (both metrics share labels)."""
        self._key_id_keys: dict[tuple[str, str, str], LabelValues] = {}
        self._transformation_keys: dict[tuple[str, str, str, str], LabelValues] = {}
        self._cache_size_keys: dict[str, LabelValues] = {}

    # --- recorders ---------------------------------------------------------------------------

    def _hash_labels(self) -> dict[str, str]:
        return {"apiserver_id_hash": self.apiserver_id_hash} if self.release.apiserver_id_hash_label else {}

    def record_key_id(self, transformation_type: str, provider: str, key_id: str, now: float) -> None:
        if not self.release.envelope_metrics:
            return
        # Called on every read and write: the label tuple is built once per (type, provider, key_id).
        memo = (transformation_type, provider, key_id)
        key = self._key_id_keys.get(memo)
        if key is None:
            labels = {
                "transformation_type": transformation_type,
                "provider_name": provider,
                "key_id_hash": key_id_hash(key_id),
                **self._hash_labels(),
            }
            key = self.key_id_hash_total.key(**labels)
            if len(self._key_id_keys) >= 4 * KEY_ID_LABEL_SETS:
                self._key_id_keys.clear()
            self._key_id_keys[memo] = key
        self._touch(key)
        self.key_id_hash_total.inc_key(key)
        self.key_id_hash_last.set_key(key, now)

    def record_status_key_id(self, provider: str, key_id: str, now: float) -> None:
        if not self.release.envelope_metrics:
            return
        labels = {"provider_name": provider, "key_id_hash": key_id_hash(key_id), **self._hash_labels()}
        self.key_id_hash_status_last.set(now, **labels)

    def _touch(self, key: LabelValues) -> None:
        # Bounded label sets, as upstream's LRU: the oldest set's series go away.
        sets = self._key_id_sets
        if key in sets:
            sets.move_to_end(key)
            return
        sets[key] = None
        while len(sets) > KEY_ID_LABEL_SETS:
            old, _ = sets.popitem(last=False)
            self.key_id_hash_total.remove_key(old)
            self.key_id_hash_last.remove_key(old)

    def record_invalid_key_id(self, provider: str, error: str) -> None:
        if self.release.envelope_metrics:
            self.invalid_key_id.inc(provider_name=provider, error=error)

    def record_kms_call(self, provider: str, method_path: str, code: str, seconds: float) -> None:
        if self.release.envelope_metrics:
            self.kms_latency.observe(
                seconds, provider_name=provider, method_name=method_path, grpc_status_code=code
            )

    def record_dek_source_cache_size(self, provider: str, size: int) -> None:
        if self.release.dek_source_cache_size_metric:
            key = self._cache_size_keys.get(provider)
            if key is None:
                key = self._cache_size_keys[provider] = self.dek_source_cache_size.key(provider_name=provider)
            self.dek_source_cache_size.set_key(key, size)

    def record_transformation(
        self, resource: str, transformation_type: str, prefix: str, status: str
    ) -> None:
        memo = (resource, transformation_type, prefix, status)
        key = self._transformation_keys.get(memo)
        if key is None:
            key = self.transformation_ops.key(
                resource=resource,
                transformation_type=transformation_type,
                transformer_prefix=prefix,
                status=status,
            )
            if len(self._transformation_keys) >= 1024:
                self._transformation_keys.clear()
            self._transformation_keys[memo] = key
        self.transformation_ops.inc_key(key)

    def record_cache_miss(self) -> None:
        self.cache_misses.inc()

    def record_reload(self, ok: bool, now: float, config_hash: str) -> None:
        release = self.release
        status = "success" if ok else "failure"
        if release.automatic_reloads_total_metric:
            self.reloads_total.inc(status=status, apiserver_id_hash=self.apiserver_id_hash)
        if release.reload_last_timestamp_metric:
            self.reload_last.set(now, status=status, apiserver_id_hash=self.apiserver_id_hash)
        if release.reload_success_failure_counters:
            (self.reload_success if ok else self.reload_failures).inc()
        if ok:
            self.record_config_info(config_hash)

    def record_config_info(self, config_hash: str) -> None:
        if self.release.last_config_info_metric and config_hash:
            self.last_config_info.reset()
            self.last_config_info.set(1, apiserver_id_hash=self.apiserver_id_hash, hash=config_hash)

    def exposition(self) -> str:
        return self.registry.exposition()
