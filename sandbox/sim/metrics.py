"""A tiny Prometheus registry: counters, gauges and histograms with labels, text exposition.

The simulated apiserver exposes the envelope metrics under their upstream names and labels
(kmsv2-spec.md section 7), so a learner can paste the same PromQL they would run against a real
cluster. Only what `/metrics` needs is here: no client library, no process metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _label_text(names: tuple[str, ...], values: LabelValues, extra: Mapping[str, str] | None = None) -> str:
    pairs = sorted(zip(names, values, strict=True))
    if extra:
        pairs += list(extra.items())
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


@dataclass
class Metric:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    kind: str = "counter"
    values: dict[LabelValues, float] = field(default_factory=dict)

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        return tuple(labels.get(n, "") for n in self.labels)

    def key(self, **labels: str) -> LabelValues:
        """The label values in this metric's order: build once, then use the `*_key` fast paths."""
        return self._key(labels)

    def remove(self, **labels: str) -> None:
        self.values.pop(self._key(labels), None)

    def remove_key(self, key: LabelValues) -> None:
        self.values.pop(key, None)

    def get(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def series(self) -> Iterable[str]:
        for key in sorted(self.values):
            yield f"{self.name}{_label_text(self.labels, key)} {_fmt(self.values[key])}"

    def reset(self) -> None:
        self.values.clear()


class Counter(Metric):
    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(self._key(labels), amount)

    def inc_key(self, key: LabelValues, amount: float = 1.0) -> None:
        """`inc` with label values from `key()`: the per-read/per-write path skips label mapping."""
        values = self.values
        values[key] = values.get(key, 0.0) + amount


class Gauge(Metric):
    def set(self, value: float, **labels: str) -> None:
        self.values[self._key(labels)] = value

    def set_key(self, key: LabelValues, value: float) -> None:
        self.values[key] = value


@dataclass
class Histogram(Metric):
    buckets: tuple[float, ...] = ()
    counts: dict[LabelValues, list[int]] = field(default_factory=dict)
    sums: dict[LabelValues, float] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[key] = self.sums.get(key, 0.0) + value

    def count(self, **labels: str) -> int:
        counts = self.counts.get(self._key(labels))
        return counts[-1] if counts else 0

    def series(self) -> Iterable[str]:
        for key in sorted(self.counts):
            counts = self.counts[key]
            for bound, n in zip(self.buckets, counts, strict=False):
                yield f"{self.name}_bucket{_label_text(self.labels, key, {'le': _fmt(bound)})} {n}"
            yield f"{self.name}_bucket{_label_text(self.labels, key, {'le': '+Inf'})} {counts[-1]}"
            yield f"{self.name}_sum{_label_text(self.labels, key)} {_fmt(self.sums[key])}"
            yield f"{self.name}_count{_label_text(self.labels, key)} {counts[-1]}"

    def reset(self) -> None:
        self.counts.clear()
        self.sums.clear()


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    return tuple(start * factor**i for i in range(count))


class Registry:
    """Metrics by name; `exposition()` renders the Prometheus text format."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def counter(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> Counter:
        metric = Counter(name, help_text, labels, "counter")
        self._metrics[name] = metric
        return metric

    def gauge(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> Gauge:
        metric = Gauge(name, help_text, labels, "gauge")
        self._metrics[name] = metric
        return metric

    def histogram(
        self, name: str, help_text: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Histogram:
        metric = Histogram(name, help_text, labels, "histogram", buckets=buckets)
        self._metrics[name] = metric
        return metric

    def __getitem__(self, name: str) -> Metric:
        return self._metrics[name]

    def reset(self) -> None:
        """Like upstream's `DELETE /metrics` in integration tests: every series is dropped."""
        for metric in self._metrics.values():
            metric.reset()

    def exposition(self) -> str:
        lines: list[str] = []
        for name in sorted(self._metrics):
            metric = self._metrics[name]
            series = list(metric.series())
            if not series:
                continue
            lines.append(f"# HELP {name} [ALPHA] {metric.help}")
            lines.append(f"# TYPE {name} {metric.kind}")
            lines.extend(series)
        return "\n".join(lines) + ("\n" if lines else "")
