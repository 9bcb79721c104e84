"""Speed of the pure core: per-write encryption, value encode/decode, inspection. Prints JSON.

Run: .venv/bin/python bench/core_formats.py [--n 2000]
Targets (a simulated apiserver write or read must be far below the plugin's RPC latencies):
counter-mode and seed-mode encrypt+encode of a 1 KiB Secret < 200 µs; decode+decrypt < 200 µs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from sandbox.core import aead, k8s_objects, kmsv2_format
from sandbox.core.cache_key import dek_cache_key
from sandbox.core.encryption_config import load_encryption_config
from sandbox.core.inspect import inspect_value

KEY = "/registry/secrets/default/bench"


def per_op_us(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n

    secret = k8s_objects.StoredObject(
        kind="Secret", namespace="default", name="bench", data={"k": os.urandom(1024)}
    )
    plaintext = k8s_objects.encode_object(secret)
    dek, seed = os.urandom(32), os.urandom(32)
    counter, seeded = aead.CounterNonceGCM(dek), aead.ExtendedNonceGCM(seed)

    def write(t: aead.CounterNonceGCM | aead.ExtendedNonceGCM, kind: int) -> bytes:
        obj = kmsv2_format.EncryptedObject(
            t.encrypt(plaintext, KEY.encode()), "key-1", b"e" * 64, {"a.io": b"1"}, kind
        )
        return kmsv2_format.encode_value("kms", obj)

    counter_value, seed_value = write(counter, 0), write(seeded, 1)

    def read(value: bytes, t: aead.CounterNonceGCM | aead.ExtendedNonceGCM) -> bytes:
        _, obj = kmsv2_format.decode_value(value)
        kmsv2_format.validate_encrypted_object(obj)
        return t.decrypt(obj.encrypted_data, KEY.encode())

    config = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n" + "".join(
        f'  - resources: [r{i}]\n    providers:\n      - kms: {{apiVersion: v2, name: p{i}, endpoint: "unix:///p{i}"}}\n'
        for i in range(20)
    )
    results = {
        "n": n,
        "plaintext_bytes": len(plaintext),
        "secret_encode_us": per_op_us(lambda: k8s_objects.encode_object(secret), n),
        "secret_decode_us": per_op_us(lambda: k8s_objects.decode_object(plaintext), n),
        "counter_write_us": per_op_us(lambda: write(counter, 0), n),
        "seed_write_us": per_op_us(lambda: write(seeded, 1), n),
        "counter_read_us": per_op_us(lambda: read(counter_value, counter), n),
        "seed_read_us": per_op_us(lambda: read(seed_value, seeded), n),
        "cache_key_us": per_op_us(lambda: dek_cache_key(1, b"e" * 64, "key-1", {"a.io": b"1"}), n),
        "inspect_us": per_op_us(lambda: inspect_value(seed_value, etcd_key=KEY, dek_or_seed=seed), n),
        "config_load_20_rules_ms": per_op_us(lambda: load_encryption_config(config), max(n // 20, 10)) / 1000,
    }
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
