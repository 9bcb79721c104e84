"""The KMS v2 probe and write state against a real gRPC plugin (catalogue CFG-7..CFG-11, INT-3 parts)."""

from __future__ import annotations

from sandbox.core.hashing import key_id_hash
from sandbox.core.kmsv2_format import AES_GCM_KEY, HKDF_SHA256_XNONCE_AES_GCM_SEED
from sandbox.sim.clock import VirtualClock
from sandbox.sim.kmsv2_probe import KmsV2Probe, rfc3339
from tests.sim.base64_plugin import Base64Plugin
from tests.sim.conftest import ApiFactory, v2_config

H1 = "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
H4 = "sha256:4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a"
H5 = "sha256:ef2d127de37b942baad06145e54b0c619a1f22327b2ebbcfbec78f5564afe39d"


def probe_of(api: object) -> KmsV2Probe:
    providers = api.providers  # type: ignore[attr-defined]
    assert providers is not None
    probe: KmsV2Probe = providers.v2_probes[0]
    return probe


async def test_CFG_7_probe_result_ttl_is_20s_when_ok_and_3s_when_failed(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock)
    probe = probe_of(api)
    calls = b64.status_calls
    assert await probe.check() is None and b64.status_calls == calls  # cached from the prime
    await clock.advance(19.9)
    assert await probe.check() is None and b64.status_calls == calls
    await clock.advance(0.2)
    assert await probe.check() is None and b64.status_calls == calls + 1
    b64.failed = True
    await clock.advance(20.1)
    first = await probe.check()
    assert first is not None and first.startswith("failed to perform status section of the healthz check")
    assert b64.status_calls == calls + 2
    await clock.advance(2.9)
    cached = await probe.check()
    # INT-5 quirk: the cached answer is the raw gRPC error, not the wrapped first message.
    assert cached == "rpc error: code = FailedPrecondition desc = failed precondition - key disabled"
    assert b64.status_calls == calls + 2
    await clock.advance(0.2)
    await probe.check()
    assert b64.status_calls == calls + 3


async def test_CFG_8_invalid_key_id_from_status_counts_by_reason(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock)
    text = api.metrics_text()
    assert "invalid_key_id_from_status_total" not in text
    b64.key_id = ""
    await clock.advance(21)
    assert await probe_of(api).check() is not None
    b64.key_id = "k" * 1025
    await clock.advance(4)
    error = await probe_of(api).check()
    assert error is not None and "keyID is 1025 bytes, which exceeds the max size of 1024" in error
    text = api.metrics_text()
    name = "apiserver_envelope_encryption_invalid_key_id_from_status_total"
    assert f'{name}{{error="empty",provider_name="kms-provider"}} 1' in text
    assert f'{name}{{error="too_long",provider_name="kms-provider"}} 1' in text


async def test_CFG_9_invalid_status_responses_aggregate_every_problem(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock)
    probe = probe_of(api)
    b64.healthz, b64.version, b64.key_id = "unhealthy", "", ""
    await clock.advance(21)
    error = await probe.check()
    assert error == (
        "kmsv2 Provider kms-provider is not healthy, error: [got unexpected healthz status: unhealthy, "
        'expected KMSv2 API version v2, got , got invalid KMSv2 KeyID hash "": keyID is empty]'
    )
    b64.healthz, b64.version = "", "v1beta1"
    await clock.advance(4)
    error = await probe.check()
    assert error is not None
    expected = (
        "got unexpected healthz status: , expected KMSv2 API version v2, got v1beta1, got invalid KMSv2 KeyID"
    )
    assert expected in error
    b64.healthz, b64.version = "ok", "v2beta1"
    await clock.advance(4)
    error = await probe.check()
    assert (
        error
        == "kmsv2 Provider kms-provider is not healthy, error: "
        + 'got invalid KMSv2 KeyID hash "": keyID is empty'
    )


async def test_CFG_9_release_wording_of_versions_and_key_ids(b64: Base64Plugin, make_api: ApiFactory) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock, version="1.27")
    b64.version, b64.key_id = "v2", ""
    await clock.advance(21)
    error = await probe_of(api).check()
    assert error is not None
    # 1.27 demands v2beta1 and still printed the raw key id.
    assert "expected KMSv2 API version v2beta1, got v2" in error
    assert 'got invalid KMSv2 KeyID "": keyID is empty' in error


async def test_CFG_10_version_must_not_change_after_the_first_status(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock)  # first Status said v2beta1
    b64.version = "v2"
    await clock.advance(21)
    error = await probe_of(api).check()
    assert error is not None and error.endswith(
        "KMSv2 API version should not change after the initial status response version v2beta1, got v2"
    )
    b64.version = "v2beta1"
    await clock.advance(4)
    assert await probe_of(api).check() is None


async def test_CFG_11_rotation_decision_table(b64: Base64Plugin, make_api: ApiFactory) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock, version="1.28")
    probe = probe_of(api)
    now = clock.now()
    # Case 1: primed from nothing, KDF off on 1.28 -> AES_GCM_KEY, expiry now+3 min, one Encrypt.
    state = probe.current_state()
    assert (state.key_id, state.dek_source_type, state.expiration) == ("1", AES_GCM_KEY, now + 180)
    assert b64.encrypt_calls == 1
    # Case 2: valid state, same key -> only the expiry moves; no Encrypt.
    await clock.advance(30)
    assert await probe.rotate_dek_on_key_id_change("1", "panda") is None
    assert b64.encrypt_calls == 1 and probe.current_state().expiration == clock.now() + 180
    assert probe.current_state().cache_key == state.cache_key
    # Case 3: KDF switched on -> new seed-type state.
    probe.set_feature_gates({"KMSv2KDF": True})
    assert await probe.rotate_dek_on_key_id_change("1", "panda") is None
    assert b64.encrypt_calls == 2 and probe.current_state().dek_source_type == HKDF_SHA256_XNONCE_AES_GCM_SEED
    # Case 5: seed state, KDF on -> kept.
    assert await probe.rotate_dek_on_key_id_change("1", "panda") is None and b64.encrypt_calls == 2
    # Case 8: expired state with the same key is revived without Encrypt.
    await clock.advance(600)
    assert await probe.rotate_dek_on_key_id_change("1", "panda") is None
    assert b64.encrypt_calls == 2 and probe.current_state().expiration == clock.now() + 180
    # Case 9: new key -> new state.
    b64.key_id = "4"
    assert await probe.rotate_dek_on_key_id_change("4", "panda") is None
    assert probe.current_state().key_id == "4" and b64.encrypt_calls == 3
    kept = probe.current_state()
    # Case 10: plugin broken while the key changes -> state unchanged, exact error text.
    b64.failed = True
    error = await probe.rotate_dek_on_key_id_change("5", "panda")
    assert error == (
        'failed to rotate DEK uid="panda", useSeed=true, errState=<nil>, '
        "errGen=failed to encrypt DEK, error: "
        "rpc error: code = FailedPrecondition desc = failed precondition - key disabled, "
        f'statusKeyIDHash="{H5}", encryptKeyIDHash="", stateKeyIDHash="{H4}", '
        f"expirationTimestamp={rfc3339(kept.expiration)}"
    )
    assert probe.current_state() is kept
    # Encrypt answering another key_id than Status also fails and keeps the state.
    b64.failed, b64.encrypt_key_id = False, "6"
    error = await probe.rotate_dek_on_key_id_change("5", "panda")
    assert error is not None and f'encryptKeyIDHash="{key_id_hash("6")}"' in error and "errGen=<nil>" in error
    assert probe.current_state() is kept


async def test_CFG_11_case_11_invalid_annotation_leaves_state_empty(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    b64.annotations = {"panda": b"1"}
    api = await make_api(v2_config(b64.endpoint))
    probe = probe_of(api)
    assert probe.state is None
    error = await probe.rotate_dek_on_key_id_change("1", "panda")
    assert error == (
        'failed to rotate DEK uid="panda", useSeed=true, errState=got unexpected nil transformer, '
        'errGen=failed to validate annotations: annotations: Invalid value: "panda": should be a domain with '
        f'at least two segments separated by dots, statusKeyIDHash="{H1}", encryptKeyIDHash="", '
        'stateKeyIDHash="", expirationTimestamp=0001-01-01T00:00:00Z'
    )
    response = await api.create("secrets", "default", "s", {"a": b"b"})
    assert (response.code, response.message) == (
        500,
        "Internal error occurred: got unexpected nil transformer",
    )


async def test_unhealthy_status_with_valid_key_still_extends_writes(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    clock = VirtualClock()
    api = await make_api(v2_config(b64.endpoint), clock=clock)
    b64.healthz = "degraded"
    for _ in range(6):  # 6 minutes, far past the 3-minute write window
        await clock.advance(60)
        assert (await api.create("secrets", "default", f"s{clock.now()}", {"a": b"b"})).code == 201
    health = await api.health("/healthz/kms-providers")
    assert health.code == 500 and "got unexpected healthz status: degraded" in health.body


async def test_fast_retry_after_failed_start_is_a_1_28_feature(
    b64: Base64Plugin, make_api: ApiFactory
) -> None:
    b64.failed = True
    new_clock, old_clock = VirtualClock(), VirtualClock()
    new = await make_api(v2_config(b64.endpoint), clock=new_clock, version="1.28")
    old = await make_api(v2_config(b64.endpoint), clock=old_clock, version="1.27", index=1)
    b64.failed = False
    await new_clock.advance(10)
    await old_clock.advance(10)
    assert probe_of(new).state is not None  # the 10 s retry loop primed it
    assert probe_of(old).state is None  # 1.27 waits for the 1-minute poll
    await old_clock.advance(50)
    assert probe_of(old).state is not None
