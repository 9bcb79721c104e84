"""Opt-in end to end: a real kind cluster, wired to the bundled plugin, runs the whole catalogue.

Run with `pytest -m kind tests/kind/test_kind_e2e.py` on a machine with a running Docker (or
Podman) and kind v0.33.0 on PATH. It takes long (cluster creation ~1-2 min, then the scenarios'
real waits: 1-minute probes, 3-minute write windows). Skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.backends.kind.backend import KindBackend

pytestmark = [pytest.mark.kind, pytest.mark.slow]


def _docker_problem() -> str:
    for cli in ("docker", "podman"):
        if shutil.which(cli) is None:
            continue
        probe = subprocess.run(
            [cli, "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=20
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return ""
        return f"{cli} is installed but its daemon is not running"
    return "neither docker nor podman is installed"


def _skip_reason() -> str:
    problem = _docker_problem()
    if problem:
        return f"kind end-to-end test needs a container runtime: {problem}"
    if shutil.which("kind") is None:
        return "kind end-to-end test needs kind on PATH (https://kind.sigs.k8s.io)"
    return ""


def _catalogue() -> list[Path]:
    from sandbox.scenarios.loader import bundled_paths

    return bundled_paths()


@pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "ready")
@pytest.mark.parametrize("path", _catalogue(), ids=lambda p: p.stem)
async def test_catalogue_scenario_on_a_real_kind_cluster(path: Path, tmp_path: Path) -> None:
    from sandbox.scenarios.loader import load_file
    from sandbox.scenarios.runner import ScenarioRun, backend_options_for

    scenario = load_file(path, {})
    options = backend_options_for(scenario, state_dir=str(tmp_path / "state"), keep=False)
    if options.plugins > options.apiservers:
        pytest.skip(
            f"{scenario.name} needs {options.plugins} plugins per cluster; kind runs one per apiserver"
        )
    backend = KindBackend(options, cluster_name=f"kms-e2e-{path.stem[:2]}")
    await backend.start()
    try:
        run = ScenarioRun(backend, scenario)
        result = await run.run()
        await run.close()
    finally:
        await backend.stop()
    assert result.ok, "\n".join(result.failures)
