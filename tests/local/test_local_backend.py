"""LocalBackend on real etcd + kube-apiserver processes with the real bundled plugin.

One backend start is shared by the module (a start costs ~5 s of the 2-core budget); each test
checks one behaviour of the Backend contract against what the real apiserver does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from sandbox.backends.base import BackendError, BackendOptions
from sandbox.backends.local.backend import LocalBackend
from sandbox.backends.local.binaries import Binaries
from sandbox.backends.local.state import RunRecord
from sandbox.core import kmsv2_format
from sandbox.core.events import ApiserverLifecycle, ClockAdvanced, PluginCall, WaitProgress
from sandbox.kms.control_client import PluginControlClient

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

SECRET_KEY = "/registry/secrets/default/smoke-0"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backend(local_binaries: Binaries) -> AsyncIterator[LocalBackend]:
    local = LocalBackend(BackendOptions(kube_version="1.37"))
    await local.start()
    try:
        yield local
    finally:
        await local.stop()


async def _current_key(backend: LocalBackend) -> str:
    async with PluginControlClient(backend.plugin_control_endpoint(0)) as control:
        return (await control.get_state()).current_key_id


async def test_first_write_is_a_kms_v2_envelope_under_the_plugins_key(backend: LocalBackend) -> None:
    created = await backend.create("secrets", "default", "smoke-0", {"token": b"smoke-value"})
    assert created.ok and created.code == 201

    value = await backend.etcd_get(SECRET_KEY)
    assert value is not None and value.startswith(b"k8s:enc:kms:v2:kms-provider:")
    provider, obj = kmsv2_format.decode_value(value)
    assert provider == "kms-provider"
    assert obj.key_id == await _current_key(backend)
    assert b"smoke-value" not in value

    read = await backend.get("secrets", "default", "smoke-0")
    assert read.ok and read.data == {"token": b"smoke-value"}
    assert SECRET_KEY in await backend.etcd_keys("/registry/secrets/")

    methods = [e.method for e in backend.events.history(["plugin.call"]) if isinstance(e, PluginCall)]
    assert methods[:2] == ["Status", "Encrypt"]  # the inline first probe made the seed at start


async def test_health_metrics_and_logs_come_from_the_real_endpoints(backend: LocalBackend) -> None:
    assert (await backend.health()).body == "ok"
    assert (await backend.health("/livez/kms-providers")).code == 404  # 1.29+: not on livez
    metrics = await backend.metrics()
    assert "apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds" in metrics
    await backend.create("secrets", "default", "logged", {"k": b"v"})
    logs = backend.logs()
    assert set(logs) >= {"apiserver-0", "etcd", "plugin-0"}
    assert "encrypting content using envelope service" in logs["apiserver-0"]


async def test_restart_keeps_data_and_pays_a_decrypt(backend: LocalBackend) -> None:
    assert (await backend.create("secrets", "default", "restart-0", {"token": b"before-restart"})).ok
    port = backend.apiservers[0].port
    before = len(backend.events.history(["plugin.call"]))
    await backend.restart_apiserver(0)
    assert backend.apiservers[0].port == port
    read = await backend.get("secrets", "default", "restart-0")
    assert read.ok and read.data == {"token": b"before-restart"}
    calls = [e for e in backend.events.history(["plugin.call"])[before:] if isinstance(e, PluginCall)]
    assert [c.method for c in calls].count("Encrypt") == 1  # a new seed for the new process
    assert "Decrypt" in [c.method for c in calls]  # the old seed, read back once
    lifecycle = backend.events.history(["apiserver.lifecycle"])
    actions = [e.action for e in lifecycle if isinstance(e, ApiserverLifecycle)]
    assert actions[-2:] == ["stopped", "restarted"]


async def test_a_value_put_into_etcd_is_served_by_the_apiserver(backend: LocalBackend) -> None:
    """A raw etcd write reaches the real apiserver: a value copied to another key fails its AAD."""
    await backend.create("secrets", "default", "original", {"token": b"one"})
    stored = await backend.etcd_get("/registry/secrets/default/original")
    assert stored is not None
    await backend.etcd_put("/registry/secrets/default/copy", stored)  # same key material, wrong key
    copied = await backend.get("secrets", "default", "copy")
    assert not copied.ok and copied.code == 500  # AAD binds the value to its etcd key
    assert "cipher: message authentication failed" in copied.message


async def test_advance_really_waits_and_reports(backend: LocalBackend) -> None:
    before, progress = backend.now(), len(backend.events.history([WaitProgress.kind]))
    await backend.advance(0.3, "a short wait")
    assert backend.now() - before >= 0.3
    last = backend.events.history(["clock.advanced"])[-1]
    assert isinstance(last, ClockAdvanced) and last.reason == "a short wait"
    assert len(backend.events.history([WaitProgress.kind])) == progress  # only long waits report
    with pytest.raises(BackendError, match="non-negative"):
        await backend.advance(-1)


async def test_kubeconfig_and_record_describe_the_running_sandbox(backend: LocalBackend) -> None:
    config = yaml.safe_load(backend.kubeconfig_path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == backend.apiservers[0].url
    assert oct(backend.kubeconfig_path.stat().st_mode & 0o777) == "0o600"
    record = RunRecord.read(backend.state_dir)
    assert record.alive() and record.kube_version == "v1.37.2"


async def test_stop_leaves_no_process_and_no_state(local_binaries: Binaries) -> None:
    local = LocalBackend(BackendOptions(kube_version="1.37"))
    await local.start()
    state = local.state_dir
    pids = list(RunRecord.read(state).pids.values())
    assert len(pids) == 3  # etcd, apiserver-0, plugin-0
    await local.stop()
    await local.stop()  # idempotent
    assert not state.exists()
    assert not [pid for pid in pids if _alive(pid)]


async def test_start_failure_cleans_up(local_binaries: Binaries, short_tmp: Path) -> None:
    """A config the apiserver rejects: start fails with its log tail, and nothing is left running."""
    broken = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: [{}]\n"
    local = LocalBackend(BackendOptions(encryption_config=broken, state_dir=str(short_tmp / "s"), keep=True))
    with pytest.raises(BackendError, match="did not start"):
        await local.start()
    record = RunRecord.read(short_tmp / "s")
    assert not record.running
    assert "encryption" in (short_tmp / "s" / "apiserver-0" / "kube-apiserver.log").read_text()
