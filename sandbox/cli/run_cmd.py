"""`kms-sandbox run`, `kms-sandbox scenarios` and `kms-sandbox schema`: scenarios, headless.

`run` loads every scenario first (a bad file or `--set` fails before anything starts, exit 2),
then runs each on a fresh backend, printing narrative and progress (or `--json` event lines),
and exits 0 only when every expectation held.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from sandbox.cli.errors import CliError

if TYPE_CHECKING:
    from sandbox.scenarios.model import Scenario

BACKENDS = ("sim", "local", "kind")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run scenarios headless",
        description="Run scenarios and check every expectation. Exit 0 when all held, 1 otherwise.",
    )
    run.add_argument(
        "scenario", nargs="+", metavar="SCENARIO", help="a scenario file or a bundled scenario name"
    )
    run.add_argument("--backend", choices=BACKENDS, default="sim", help="where to run (default: sim)")
    run.add_argument("--kube-version", default="", metavar="X.Y", help="Kubernetes release to model or run")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a scenario parameter (repeatable)",
    )
    run.add_argument("--report", metavar="DIR", help="write a bug-report bundle per scenario into DIR")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML results to FILE")
    run.add_argument("--json", action="store_true", help="print every event as a JSON line instead of text")
    run.add_argument(
        "--state-dir", default="", metavar="DIR", help="local/kind: where sockets, keys, logs and data go"
    )
    run.add_argument("--keep", action="store_true", help="keep the state directory after the run")
    run.set_defaults(func=run_command)

    listing = subparsers.add_parser("scenarios", help="list the bundled scenario catalogue")
    listing.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    listing.set_defaults(func=scenarios_command)

    schema = subparsers.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(func=schema_command)


def parse_overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {item!r}: expected KEY=VALUE, e.g. --set secrets=100")
        out[key.strip()] = value
    return out


def load_all(names: list[str], overrides: dict[str, str], backend: str) -> list[Scenario]:
    """Loads every scenario with the overrides that concern it; any problem is a CliError (exit 2)."""
    from sandbox.scenarios.model import ScenarioError, find_scenario

    scenarios = []
    used: set[str] = set()
    try:
        for name in names:
            scenario = find_scenario(name)
            mine = {k: v for k, v in overrides.items() if k in scenario.parameters}
            if len(names) == 1:
                mine = overrides  # one scenario: an unknown key is reported against it
            used.update(mine)
            scenario = scenario.with_parameters(mine)
            if backend not in scenario.backends:
                supported = ", ".join(scenario.backends)
                raise CliError(f"scenario {scenario.name} runs on {supported}, not on the {backend} backend")
            scenarios.append(scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    unused = sorted(set(overrides) - used)
    if unused:
        raise CliError(f"--set {unused[0]}: no scenario given declares this parameter")
    return scenarios


def check_kube_version(scenarios: list[Scenario], requested: str) -> None:
    """Every release a run would model must be one the sandbox knows, before anything starts."""
    from sandbox.core.errors import SandboxError
    from sandbox.core.releases import profile_for

    for scenario in scenarios:
        version = requested or scenario.cluster.kube_version
        if not version:
            continue  # the backend's default
        try:
            profile_for(version)
        except SandboxError as exc:
            where = "--kube-version" if requested else f"scenario {scenario.name}: cluster.kubeVersion"
            raise CliError(f"{where}: {exc}") from None


def check_outputs(report: str | None, junit: str | None) -> None:
    """--report and --junit must be writable before a run spends minutes on a real cluster."""
    import os
    from pathlib import Path

    places = [("--report", Path(report))] if report else []
    if junit:
        places.append(("--junit", Path(junit).parent))
    for option, directory in places:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(
                f"{option}: cannot create directory {str(directory)!r}: {exc.strerror or exc}; "
                "expected a writable path"
            ) from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CliError(
                f"{option}: directory {str(directory)!r} is not writable; expected a writable path"
            )


def run_command(args: argparse.Namespace) -> int:
    import asyncio

    overrides = parse_overrides(args.overrides)
    scenarios = load_all(args.scenario, overrides, args.backend)
    check_kube_version(scenarios, args.kube_version)
    check_outputs(args.report, args.junit)
    # Ctrl-C: asyncio.run cancels the run, whose `finally` stops the backend; main() then turns
    # the KeyboardInterrupt into "interrupted" and exit 130.
    try:
        return asyncio.run(_run_all(args, scenarios))
    except (CliError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug or a dying backend: one line, never a traceback
        text = " ".join(str(exc).split()) or "no details"
        raise CliError(f"the run failed unexpectedly: {type(exc).__name__}: {text}", exit_code=1) from None


async def _run_all(args: argparse.Namespace, scenarios: list[Scenario]) -> int:
    from pathlib import Path

    from sandbox.backends.base import BackendError
    from sandbox.backends.factory import make_backend
    from sandbox.core.events import EventBus
    from sandbox.scenarios.console import ConsolePrinter, JsonLinesWriter
    from sandbox.scenarios.junit import write_junit
    from sandbox.scenarios.report import write_report
    from sandbox.scenarios.runner import RunResult, ScenarioRun, backend_options_for

    outcomes: list[tuple[Scenario, RunResult]] = []
    printer = JsonLinesWriter(sys.stdout) if args.json else ConsolePrinter()
    for scenario in scenarios:
        bus = EventBus(history=200_000)
        bus.subscribe(printer)
        options = backend_options_for(
            scenario, kube_version=args.kube_version, state_dir=args.state_dir, keep=args.keep
        )
        try:
            backend = make_backend(args.backend, options, bus)
        except BackendError as exc:
            raise CliError(f"the {args.backend} backend cannot start: {exc}") from None
        try:
            await backend.start()
        except BackendError as exc:
            await backend.stop()  # idempotent: whatever did start is stopped
            raise CliError(f"the {args.backend} backend cannot start: {exc}") from None
        try:
            run = ScenarioRun(backend, scenario)
            result = await run.run()
            if args.report:
                where = await write_report(Path(args.report), run, result)
                if not args.json:
                    print(f"report bundle: {where}")
        except BackendError as exc:
            raise CliError(f"the {args.backend} backend failed: {exc}", exit_code=1) from None
        finally:
            await backend.stop()
        outcomes.append((scenario, result))
    if args.junit:
        write_junit(Path(args.junit), outcomes, args.backend)
    return 0 if all(result.ok for _, result in outcomes) else 1


def scenarios_command(args: argparse.Namespace) -> int:
    import json

    from sandbox.scenarios.model import ScenarioError, bundled_scenarios

    try:
        catalogue = bundled_scenarios()
    except ScenarioError as exc:
        raise CliError(str(exc), exit_code=1) from None
    if args.json:
        rows = [
            {
                "name": s.name,
                "title": s.title,
                "summary": s.summary,
                "issues": list(s.issues),
                "parameters": dict(s.parameters),
            }
            for s in catalogue
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(s.name) for s in catalogue), default=0)
    for s in catalogue:
        print(f"{s.name:<{width}}  {s.title}")
        print(f"{'':<{width}}  {s.summary}")
    return 0


def schema_command(args: argparse.Namespace) -> int:
    from sandbox.scenarios.schema import SCHEMA_PATH

    sys.stdout.write(SCHEMA_PATH.read_text(encoding="utf-8"))
    return 0
