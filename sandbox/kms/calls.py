"""What one KMS call produces and how it is measured: answers, outcomes, errors, histograms.

Plain data shared by the service core (`sandbox.kms.service`), the gRPC servicers and the
metrics endpoint; nothing here does I/O.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class KmsCallError(Exception):
    """A KMS call failed; `code` is the canonical gRPC code name, `message` goes to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StatusAnswer:
    version: str
    healthz: str
    key_id: str


@dataclass(frozen=True)
class EncryptAnswer:
    ciphertext: bytes
    key_id: str
    annotations: Mapping[str, bytes]
    """Shared between calls: read it, never change it."""


@dataclass
class CallOutcome(Generic[T]):
    """What a successful call produced, plus the facts its event and log line record."""

    value: T
    key_id: str = ""
    annotation_keys: tuple[str, ...] = ()
    response_bytes: int = 0


@dataclass
class Histogram:
    buckets: list[int]
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        # One bucket per observation (bisect); `cumulative()` builds Prometheus' running sums.
        index = bisect.bisect_left(LATENCY_BUCKETS_S, seconds)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[int]:
        return list(itertools.accumulate(self.buckets))
