"""The KMS v2 envelope transformer through the simulated apiserver (catalogue ENV-*, INT-8, AES-*)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

from sandbox.core.aead import COUNTER_START, NONCE_SIZE, counter_from_nonce, gcm_decrypt, hkdf_expand_key
from sandbox.core.k8s_objects import decode_object
from sandbox.core.kmsv2_format import (
    AES_GCM_KEY,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    decode_value,
    encode_value,
)
from sandbox.sim.apiserver import SimApiserver
from sandbox.sim.clock import VirtualClock
from sandbox.sim.envelope_v2 import KmsV2Transformer
from sandbox.sim.store import MemoryStore
from tests.sim.base64_plugin import Base64Plugin
from tests.sim.conftest import ApiFactory, corrupt, v2_config

VECTOR = json.loads((Path("/work/shared/vectors/kmsv2-legacy-aes-gcm-key.json")).read_text())
H1 = "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"


def v2_transformer(api: SimApiserver) -> KmsV2Transformer:
    assert api.providers is not None
    transformer = api.providers.chain("secrets").first.transformer
    assert isinstance(transformer, KmsV2Transformer)
    return transformer


def stored(api: SimApiserver, name: str, namespace: str = "default") -> EncryptedObject:
    kv = api.store.get(api.key_for("secrets", namespace, name))
    assert kv is not None
    provider, obj = decode_value(kv.value)
    assert provider == "kms-provider"
    return obj


async def test_INT_8_recorded_v1_27_value_reads_in_both_kdf_modes(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    prefix = "/43da1478-5e9c-4ef3-a92a-2b19d540c8a5/registry"
    for version, gates in (("1.28", {"KMSv2KDF": False}), ("1.28", {"KMSv2KDF": True}), ("", {})):
        store = MemoryStore()
        store.put(VECTOR["etcd_key"], bytes.fromhex(VECTOR["value_hex"]))
        api = await make_api(
            v2_config(b64.endpoint), version=version, gates=gates, store=store, prefix=prefix
        )
        listed = await api.list("secrets", "kms-v2-legacy-data")
        assert listed.ok and listed.items == ("kms-v2-legacy-data/dek-source-aes-gcm-key",)
        got = await api.get("secrets", "kms-v2-legacy-data", "dek-source-aes-gcm-key")
        assert got.code == 200 and got.data["api_key"] == b"086a7ffc-0225-11e8-ba89-0ed5f89f718b"
        assert got.stale == (api.providers is not None and api.providers.v2_probes[0].use_seed)
    plaintext_hash = hashlib.sha256(
        gcm_decrypt(
            bytes.fromhex(VECTOR["dek_hex"]),
            decode_value(bytes.fromhex(VECTOR["value_hex"]))[1].encrypted_data,
            VECTOR["etcd_key"].encode(),
        )
    ).hexdigest()
    assert plaintext_hash == VECTOR["expected"]["plaintext_sha256"]


async def test_INT_2_value_format_and_edek_round_trip_in_both_modes(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    for gates, dek_type in (
        ({"KMSv2KDF": False}, AES_GCM_KEY),
        ({"KMSv2KDF": True}, HKDF_SHA256_XNONCE_AES_GCM_SEED),
    ):
        api = await make_api(v2_config(b64.endpoint), version="1.28", gates=gates)
        source = b64.last_encrypt_plaintext
        assert (await api.create("secrets", "default", "test-secret", {"api_key": b"086a7ffc"})).code == 201
        key = api.key_for("secrets", "default", "test-secret")
        value = api.store.get(key).value  # type: ignore[union-attr]
        assert value.startswith(b"k8s:enc:kms:v2:kms-provider:")
        obj = stored(api, "test-secret")
        assert obj.dek_source_type == dek_type and obj.key_id == "1"
        assert base64.b64decode(obj.encrypted_dek_source) == source  # the mock unwraps what Encrypt got
        if dek_type == AES_GCM_KEY:
            plaintext = gcm_decrypt(source, obj.encrypted_data, key.encode())
            assert counter_from_nonce(obj.encrypted_data[:NONCE_SIZE]) == COUNTER_START + 1
        else:
            info = obj.encrypted_data[:32]
            plaintext = gcm_decrypt(hkdf_expand_key(source, info), obj.encrypted_data[32:], key.encode())
            assert value.endswith(b"\x28\x01")  # field 5 = 1 closes a seed-mode object
        assert decode_object(plaintext).data["api_key"] == b"086a7ffc"
        assert (await api.get("secrets", "default", "test-secret")).data["api_key"] == b"086a7ffc"


async def test_ENV_1_reads_during_an_outage_come_from_the_dek_cache(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    writer = await make_api(v2_config(b64.endpoint), clock=clock)
    assert (await writer.create("secrets", "default", "s", {"a": b"b"})).ok
    # (a) 24 h TTL, plugin down: 10 reads, no Decrypt.
    b64.decrypt_disabled = True
    await clock.advance(120)
    before = b64.decrypt_calls
    for _ in range(10):
        assert (await writer.get("secrets", "default", "s")).ok
    assert b64.decrypt_calls == before
    # (b) a 1 ms TTL and GC by an unrelated insert: every read misses and fails.
    cache = v2_transformer(writer).cache
    cache.ttl = 0.001  # type: ignore[union-attr]
    state = v2_transformer(writer).probe.current_state()
    cache.set(state.cache_key, state.reader)  # re-inserted with the 1 ms TTL
    await clock.advance(1)
    cache.set(b"unrelated", v2_transformer(writer).probe.current_state().reader)
    for _ in range(10):
        response = await writer.get("secrets", "default", "s")
        assert response.message == corrupt(
            "/secrets/default/s",
            "failed to decrypt DEK, error: "
            "rpc error: code = FailedPrecondition desc = Envelope service was disabled",
        )
    assert b64.decrypt_calls == before + 10
    # (c) plugin back: the first miss refills the cache, the other 9 reads hit.
    b64.decrypt_disabled = False
    for _ in range(10):
        assert (await writer.get("secrets", "default", "s")).ok
    assert b64.decrypt_calls == before + 11


async def test_ENV_2_staleness_follows_key_id_and_type(b64: Base64Plugin, make_api: ApiFactory) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock, version="1.28")
    await api.create("secrets", "default", "s", {"a": b"b"})
    assert (await api.get("secrets", "default", "s")).stale is False
    api.set_feature_gates({"KMSv2KDF": True})
    await clock.advance(61)  # the next poll re-keys into seed mode
    assert (await api.get("secrets", "default", "s")).stale is True
    await api.update("secrets", "default", "s")
    assert (await api.get("secrets", "default", "s")).stale is False
    b64.update_key_id()
    await clock.advance(60)
    assert (await api.get("secrets", "default", "s")).stale is True


async def test_ENV_3_outage_semantics(b64: Base64Plugin, make_api: ApiFactory) -> None:
    clock = VirtualClock()
    b64.failed = True
    api = await make_api(v2_config(b64.endpoint), clock=clock)
    nil = "Internal error occurred: got unexpected nil transformer"
    assert (await api.create("secrets", "default", "s", {"a": b"b"})).message == nil
    b64.failed = False
    await clock.advance(10)  # 10 s retry loop primes
    assert (await api.create("secrets", "default", "s", {"a": b"b"})).ok
    b64.failed = True
    assert (await api.get("secrets", "default", "s")).ok  # state valid: no RPC needed
    await clock.advance(3600)
    created = await api.create("secrets", "default", "t", {"a": b"b"})
    assert created.code == 500
    assert f'encryptedDEKSource with keyID hash "{H1}" expired at' in created.message
    assert (await api.get("secrets", "default", "s")).ok
    obj = stored(api, "s")
    unknown_edek = obj.encrypted_dek_source + b"x"
    tampered = EncryptedObject(
        obj.encrypted_data, obj.key_id, unknown_edek, obj.annotations, obj.dek_source_type
    )
    api.store.put(api.key_for("secrets", "default", "u"), encode_value("kms-provider", tampered))
    b64.failed, b64.decrypt_disabled = False, True
    response = await api.get("secrets", "default", "u")
    assert response.message.endswith("failed to decrypt DEK, error: rpc error: code = FailedPrecondition "
                                     "desc = Envelope service was disabled")  # fmt: skip


async def test_ENV_4_bad_annotations_from_encrypt_fail_writes(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    for bad in (
        {"http://foo.example.com": b"x"},
        {"a.example.com": b"x" * 32 * 1024},
        {"a.example.com": b"x" * 31 * 1024, "b.example.com": b"x" * 1024},
    ):
        b64.annotations = bad
        api = await make_api(v2_config(b64.endpoint))
        error = await api.providers.v2_probes[0].check()  # type: ignore[union-attr]
        assert error is not None and "failed to validate annotations" in error
        assert (await api.create("secrets", "default", "s", {"a": b"b"})).code == 500


async def test_ENV_6_to_9_invalid_stored_objects_and_sources(b64: Base64Plugin, make_api: ApiFactory) -> None:
    api = await make_api(v2_config(b64.endpoint))
    cases = {
        "type": (EncryptedObject(b"d", "1", b"e", {}, 55), "unknown encryptedDEKSourceType: 55"),
        "data": (EncryptedObject(b"", "1", b"e"), "encrypted data is empty"),
        "edek": (EncryptedObject(b"d", "1", b""), "failed to validate encrypted DEK source: "),
        "keyid": (EncryptedObject(b"d", "", b"e"), "failed to validate key id: keyID is empty"),
        "ann": (EncryptedObject(b"d", "1", b"e", {"@": b""}), 'failed to validate annotations: '),
    }  # fmt: skip
    for name, (obj, message) in cases.items():
        api.store.put(api.key_for("secrets", "default", name), encode_value("kms-provider", obj))
        response = await api.get("secrets", "default", name)
        expected = corrupt(f"/secrets/default/{name}", message)
        assert response.message.startswith(expected)
    b64.fixed_ciphertext = b"x" * 1025
    b64.update_key_id()
    api.providers.v2_probes[0]._ttl = 0  # type: ignore[union-attr]
    error = await api.providers.v2_probes[0].check()  # type: ignore[union-attr]
    assert (
        error is not None
        and "encrypted DEK source is 1025 bytes, which exceeds the max size of 1024" in error
    )


async def test_a_header_seen_valid_still_needs_its_payload(b64: Base64Plugin, make_api: ApiFactory) -> None:
    """Reads reuse the checks of a known (type, EDEK, keyID, annotations) but still check the payload."""
    api = await make_api(v2_config(b64.endpoint))
    await api.create("secrets", "default", "good", {"a": b"1"})
    assert (await api.get("secrets", "default", "good")).ok
    header = stored(api, "good")
    empty = EncryptedObject(b"", header.key_id, header.encrypted_dek_source, header.annotations, 1)
    api.store.put(api.key_for("secrets", "default", "empty"), encode_value("kms-provider", empty))
    response = await api.get("secrets", "default", "empty")
    assert response.message == corrupt("/secrets/default/empty", "encrypted data is empty")
    moved = api.store.get(api.key_for("secrets", "default", "good"))
    assert moved is not None
    api.store.put(api.key_for("secrets", "default", "moved"), moved.value)  # same header, other AAD
    assert not (await api.get("secrets", "default", "moved")).ok


async def test_ENV_11_and_SIM_3_one_decrypt_per_distinct_seed_after_restart(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    api = await make_api(v2_config(b64.endpoint))
    for i in range(10):
        if i:
            await api.restart()  # a new seed for every write
        await api.create("secrets", "default", f"s{i}", {"a": b"b"})
    assert len({stored(api, f"s{i}").encrypted_dek_source for i in range(10)}) == 10
    before = b64.decrypt_calls
    await api.restart()
    # The watch cache's initial LIST pays the restart: one Decrypt per distinct seed.
    assert b64.decrypt_calls - before == 10
    assert 'dek_source_cache_size{provider_name="kms-provider"} 10' in api.metrics_text()
    for i in range(10):
        assert (await api.get("secrets", "default", f"s{i}")).ok
        assert (await api.get("secrets", "default", f"s{i}")).stale is False  # same key_id and type
    assert b64.decrypt_calls - before == 10  # client GETs hit the warm DEK cache


async def test_ENV_13_cache_key_includes_annotations(b64: Base64Plugin, make_api: ApiFactory) -> None:
    b64.fixed_ciphertext = b"same-ciphertext-for-every-dek"
    api = await make_api(v2_config(b64.endpoint))
    await api.create("secrets", "default", "one", {"a": b"1"})
    await api.restart()
    await api.create("secrets", "default", "two", {"a": b"2"})
    await api.restart()
    assert stored(api, "one").encrypted_dek_source == stored(api, "two").encrypted_dek_source
    assert (await api.get("secrets", "default", "one")).data == {"a": b"1"}
    assert (await api.get("secrets", "default", "two")).data == {"a": b"2"}


async def test_INT_4_AES_2_one_dek_many_writes_with_counter_nonces(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    api = await make_api(v2_config(b64.endpoint), version="1.28")
    for i in range(1, 1001):
        assert (await api.create("secrets", "default", f"dek-reuse-{i:04d}", {"i": str(i).encode()})).ok
    objects = [stored(api, f"dek-reuse-{i:04d}") for i in range(1, 1001)]
    assert len({o.encrypted_dek_source for o in objects}) == 1 and objects[0].encrypted_dek_source
    assert {o.key_id for o in objects} == {"1"}
    for i, obj in enumerate(objects):
        nonce = obj.encrypted_data[:NONCE_SIZE]
        assert nonce[:4] != b"\x00\x00\x00\x00"
        assert struct.unpack("<Q", nonce[4:])[0] == COUNTER_START + 1 + i
    assert b64.encrypt_calls == 1


async def test_INT_4_seed_mode_infos_are_fresh_and_never_zero(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    api = await make_api(v2_config(b64.endpoint))
    for i in range(300):
        await api.create("secrets", "default", f"s{i}", {"i": b"x"})
    infos = [stored(api, f"s{i}").encrypted_data[:32] for i in range(300)]
    assert len(set(infos)) == 300 and bytes(32) not in infos
    assert len({stored(api, f"s{i}").encrypted_dek_source for i in range(300)}) == 1


async def test_AES_1_nonce_overflow_fails_the_write_with_the_fatal_text(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    from sandbox.core.aead import MAX_COUNTER, CounterNonceGCM

    api = await make_api(v2_config(b64.endpoint), version="1.28")
    state = api.providers.v2_probes[0].current_state()  # type: ignore[union-attr]
    object.__setattr__(
        state, "transformer", CounterNonceGCM(b64.last_encrypt_plaintext, counter=MAX_COUNTER - 1)
    )
    assert (await api.create("secrets", "default", "a", {"x": b"1"})).ok  # MaxUint64 is still fine
    response = await api.create("secrets", "default", "b", {"x": b"1"})
    assert response.message == (
        "Internal error occurred: aes-gcm detected nonce overflow - cryptographic wear out has occurred"
    )


async def test_AES_3_AES_5_values_open_with_plain_aes_gcm_and_12_byte_nonces(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    api = await make_api(v2_config(b64.endpoint), version="1.27")
    await api.create("secrets", "default", "s", {"x": b"1"})
    obj = stored(api, "s")
    dek = base64.b64decode(obj.encrypted_dek_source)
    opened = gcm_decrypt(dek, obj.encrypted_data, api.key_for("secrets", "default", "s").encode())
    assert decode_object(opened).data == {"x": b"1"}
    assert len(obj.encrypted_data) == NONCE_SIZE + len(opened) + 16


async def test_copying_a_value_to_another_key_fails_authentication(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    api = await make_api(v2_config(b64.endpoint))
    await api.create("secrets", "default", "a", {"x": b"1"})
    value = api.store.get(api.key_for("secrets", "default", "a")).value  # type: ignore[union-attr]
    api.store.put(api.key_for("secrets", "default", "b"), value)
    response = await api.get("secrets", "default", "b")
    assert response.message == corrupt("/secrets/default/b", "cipher: message authentication failed")
