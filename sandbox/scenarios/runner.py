"""Runs a scenario on a started backend, step by step, publishing every stage as an event.

The runner publishes on `backend.events`: ScenarioStarted, StepStarted, OperationFinished,
ExpectationChecked, StepFinished, ScenarioFinished. The CLI printer, JSON lines, JUnit XML,
report bundles and the UI all consume that one stream.

    options = backend_options_for(scenario, params)
    async with make_backend("sim", options) as backend:
        result = await ScenarioRun(backend, scenario, params).run()

A step runs its operations in order, then polls each expectation. An operation that cannot be
carried out at all ends the step; an API error is only a failure when no `outcome` expectation
of the step accounts for it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.backends.base import Backend, BackendOptions
from sandbox.core.events import (
    Event,
    ExpectationChecked,
    OperationFinished,
    ScenarioFinished,
    ScenarioStarted,
    StepFinished,
    StepStarted,
)
from sandbox.scenarios import model as m
from sandbox.scenarios.context import OpRecord, RunContext
from sandbox.scenarios.expectations import Check, poll
from sandbox.scenarios.operations import config_text, execute

SOURCE = "runner"


@dataclass(frozen=True)
class StepResult:
    index: int
    name: str
    ok: bool
    checks: tuple[Check, ...] = ()
    operations: tuple[str, ...] = ()
    """Operation summaries, in order."""
    failures: tuple[str, ...] = ()
    """One line per failure: the expectation or operation, what was expected, what was observed."""
    duration_s: float = 0.0
    virtual_s: float = 0.0


@dataclass(frozen=True)
class RunResult:
    scenario: str
    ok: bool
    steps: tuple[StepResult, ...] = ()
    duration_s: float = 0.0
    virtual_s: float = 0.0
    failures: tuple[str, ...] = field(default_factory=tuple)


def backend_options_for(
    scenario: m.Scenario,
    params: Mapping[str, str] | None = None,
    kube_version: str = "",
    **overrides: Any,
) -> BackendOptions:
    """The BackendOptions a scenario starts from; `kube_version` and `overrides` win."""
    if params:
        scenario = scenario.with_parameters(params)
    cluster, plugin = scenario.cluster, scenario.plugin
    options = BackendOptions(
        kube_version=kube_version or cluster.kube_version,
        encryption_config=config_text(cluster.encryption_config) if cluster.encryption_config else "",
        apiservers=cluster.apiservers,
        plugins=scenario.plugin_count,
        plugin_api=",".join(plugin.apis) or plugin.api,
        feature_gates=dict(cluster.feature_gates),
    )
    return dataclasses.replace(options, **overrides) if overrides else options


class ScenarioRun:
    """One run of `scenario` on `backend` (already started by the caller)."""

    def __init__(
        self, backend: Backend, scenario: m.Scenario, params: Mapping[str, str] | None = None
    ) -> None:
        self.backend = backend
        self.scenario = scenario.with_parameters(params or {})
        self.results: list[StepResult] = []
        self.context = RunContext(backend, self.scenario.name, backend.options.encryption_config)
        self._prepared = False
        self._started_real = 0.0
        self._started_virtual = 0.0
        self._finished: RunResult | None = None

    @property
    def steps(self) -> tuple[m.Step, ...]:
        return self.scenario.steps

    @property
    def done(self) -> bool:
        return len(self.results) >= len(self.steps)

    def _emit(self, event_type: Callable[..., Event], **fields: Any) -> None:
        """Publishes a runner event stamped with the run's clock, source and scenario."""
        self.backend.events.publish(
            event_type(time=self.backend.now(), source=SOURCE, scenario=self.scenario.name, **fields)
        )

    async def _prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True
        self._started_real, self._started_virtual = time.perf_counter(), self.backend.now()
        self._emit(
            ScenarioStarted, title=self.scenario.title, backend=self.backend.name, steps=len(self.steps)
        )
        await self.context.remember_initial_keys()
        latency = self.scenario.plugin.remote_latency_ms
        if latency.encrypt or latency.decrypt:
            for i in range(self.backend.plugin_count):
                await self.context.client(i).set_remote_latency(latency.encrypt, latency.decrypt)

    async def run(self) -> RunResult:
        """Runs every step not yet run, then finishes the scenario."""
        try:
            while not self.done:
                if not (await self.run_step(len(self.results))).ok:
                    break  # later steps build on this one: their failures would only be noise
        finally:
            await self.close()
        return self.finish()

    async def close(self) -> None:
        """Closes the plugin control connections (run() does this itself)."""
        await self.context.close()

    async def run_step(self, index: int) -> StepResult:
        """Runs step `index` (steps run in order; the UI's "step" button calls this)."""
        if index != len(self.results):
            raise ValueError(f"step {index} cannot run now: the next step is {len(self.results)}")
        await self._prepare()
        step = self.steps[index]
        ctx = self.context
        real0, virtual0 = time.perf_counter(), self.backend.now()
        self._emit(StepStarted, index=index, name=step.name, narrative=step.narrative)
        await ctx.begin_step(index)
        failures: list[str] = []
        summaries: list[str] = []
        for op in step.operations:
            record = await self._operation(op, index)
            summaries.append(record.summary)
            if record.error:
                failures.append(f"operation {record.key}: {record.error}")
                break
        checks: list[Check] = []
        if not failures:
            for exp in step.expect:
                check, _ = await poll(exp, ctx)
                checks.append(check)
                self._emit(
                    ExpectationChecked,
                    step=index,
                    description=check.description,
                    ok=check.ok,
                    expected=check.expected,
                    observed=check.observed,
                )
                if not check.ok:
                    failures.append(
                        f"{check.description}: expected {check.expected}; observed {check.observed}"
                    )
            failures.extend(self._unexpected_errors(step))
        result = StepResult(
            index=index,
            name=step.name,
            ok=not failures,
            checks=tuple(checks),
            operations=tuple(summaries),
            failures=tuple(failures),
            duration_s=time.perf_counter() - real0,
            virtual_s=self.backend.now() - virtual0,
        )
        self.results.append(result)
        self._emit(StepFinished, index=index, name=step.name, ok=result.ok, duration_s=result.duration_s)
        return result

    async def _operation(self, op: m.Operation, index: int) -> OpRecord:
        try:
            record = await execute(op, self.context)
        except Exception as exc:  # a broken plugin or backend: say so and end the step
            record = OpRecord(op.key, getattr(op, "id", ""), f"{op.key} could not run", error=_one_line(exc))
        self.context.record(record)
        self._emit(
            OperationFinished,
            step=index,
            operation=op.key,
            ok=record.ok,
            summary=record.summary,
            error=record.first_error(),
        )
        return record

    def _unexpected_errors(self, step: m.Step) -> list[str]:
        """Failed requests no `outcome` expectation of the step looks at."""
        covered = {e.of or "" for e in step.expect if isinstance(e, m.OutcomeExpect)}
        last = len(self.context.records) - 1
        out = []
        for i, record in enumerate(self.context.records):
            if record.ok or record.error:
                continue
            if (record.id and record.id in covered) or ("" in covered and i == last):
                continue
            out.append(
                f"operation {record.key} failed and no outcome expectation expects it: {record.first_error()}"
            )
        return out

    def finish(self) -> RunResult:
        """Publishes ScenarioFinished once and returns the overall result."""
        if self._finished is None:
            failures = tuple(f"step {r.index + 1} ({r.name}): {f}" for r in self.results for f in r.failures)
            ok = self.done and not failures
            result = RunResult(
                scenario=self.scenario.name,
                ok=ok,
                steps=tuple(self.results),
                duration_s=time.perf_counter() - self._started_real,
                virtual_s=self.backend.now() - self._started_virtual,
                failures=failures,
            )
            self._emit(
                ScenarioFinished,
                ok=ok,
                duration_s=result.duration_s,
                virtual_s=result.virtual_s,
                failures=failures,
            )
            self._finished = result
        return self._finished


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 500 else text[:497] + "..."
