"""The format: schema and model agree, good files load, bad files fail at the right position."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.scenarios import model
from sandbox.scenarios.loader import parse_duration, resolve_parameters
from sandbox.scenarios.model import Range, ScenarioError, load_scenario
from sandbox.scenarios.schema import SCHEMA_PATH, build_schema, camel, schema_text
from tests.scenarios.conftest import DATA

GOOD = (DATA / "every-operation.yaml").read_text()


def test_committed_schema_is_generated_from_the_model() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m sandbox.scenarios.schema > " + str(
        SCHEMA_PATH
    )


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("cls", [*model.OPERATION_TYPES, *model.EXPECTATION_TYPES])
def test_every_operation_and_expectation_class_is_in_the_schema_with_its_fields(cls: type[Any]) -> None:
    defs = build_schema()["$defs"]
    union = defs["operation"] if cls in model.OPERATION_TYPES else defs["expectation"]
    assert cls.key in union["propertyNames"]["enum"]
    properties = defs[cls.__name__]["properties"]
    assert set(properties) == {camel(f.name) for f in dataclasses.fields(cls)}
    assert all({"$ref", "type", "enum", "anyOf"} & set(p) for p in properties.values())


def load_text(tmp_path: Path, text: str, overrides: dict[str, str] | None = None) -> model.Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return load_scenario(path, overrides)


def error_of(tmp_path: Path, text: str, overrides: dict[str, str] | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_text(tmp_path, text, overrides)
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "- update: {id: noop, name: obj-1}",
            "- updat: {id: noop, name: obj-1}",
            'found "updat", expected one of',
        ),
        (
            "{id: noop, name: obj-1}",
            "{id: noop, nme: obj-1}",
            "unknown field 'nme'; expected one of: apiserver,",
        ),
        ("- advance: {by: 61s}", "- advance: {by: 61 seconds}", 'found "61 seconds", expected a duration'),
        ("count: 2\n", "count: two\n", 'found "two", expected an integer'),
        (
            '{id: made, name: "obj-{i}", count: "${count}"',
            '{id: made, name: "obj-{i}", count: "${cuont}"',
            "unknown parameter ${cuont}; known parameters: count, marker",
        ),
        ("{of: listed, items: 1}", "{of: lsted, items: 1}", "no operation with id 'lsted' in this step"),
        (
            "- restartApiserver: {apiserver: 0}",
            "- restartApiserver: {apiserver: 4}",
            "apiserver 4 is out of range",
        ),
        ("- pluginOutage: {mode: hang}", "- pluginOutage: {mode: flaky}", 'found "flaky", expected one of'),
        ("{of: gone, ok: true}", "{of: gone, ok: yes please}", 'found "yes please", expected true or false'),
        (
            "      - pluginRestore: {}\n      - pluginFault",
            "      - pluginRestore: {}\n        pluginStop: {}\n      - pluginFault",
            "found pluginRestore, pluginStop, expected an operation",
        ),
    ],
)
def test_bad_files_fail_with_file_line_column(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    err = error_of(tmp_path, text)
    assert message in err.detail, err.detail
    assert err.path.endswith("scenario.yaml")
    assert err.line == line_of(text, new.strip().splitlines()[0].strip()[:20]) or "count: two" in new
    assert str(err).startswith(f"{err.path}:{err.line}:{err.column}: ")


def test_missing_field_and_invalid_yaml(tmp_path: Path) -> None:
    err = error_of(tmp_path, GOOD.replace("  title: Every operation and expectation type\n", ""))
    assert "metadata: missing required field 'title'" in err.detail and err.line == line_of(
        GOOD, "name: every"
    )
    err = error_of(tmp_path, GOOD.replace("steps:\n", "steps: [\n", 1))
    assert err.detail.startswith("invalid YAML:") and err.line > 0
    err = error_of(tmp_path, "- just a list\n")
    assert "expected a mapping with apiVersion, kind, metadata and steps" in str(err)


def test_parameters_defaults_and_overrides(tmp_path: Path) -> None:
    scenario = load_text(tmp_path, GOOD, {"count": "4", "marker": "zz"})
    assert scenario.parameters == {"count": 2, "marker": "every-op"}
    assert scenario.parameter_values == {"count": 4, "marker": "zz"}
    create = scenario.steps[0].operations[0]
    assert isinstance(create, model.CreateOp) and create.count == 4 and create.data == {"v": "zz-value-{i}"}
    err = error_of(tmp_path, GOOD, {"secrets": "3"})
    assert "unknown parameter 'secrets'" in str(err) and "known parameters: count, marker" in str(err)
    err = error_of(tmp_path, GOOD, {"count": "many"})
    assert "--set count=many: expected an int like the default 2" in str(err)


def test_structured_and_text_configs_and_durations(tmp_path: Path) -> None:
    scenario = load_text(tmp_path, GOOD)
    ops = scenario.steps[2].operations
    config = next(op for op in ops if isinstance(op, model.SetEncryptionConfigOp))
    assert isinstance(config.config, str) and "identity" in config.config
    assert isinstance(scenario.cluster.encryption_config, dict)
    waits = [op for op in scenario.steps[1].operations if isinstance(op, model.WaitOp)]
    assert waits[0].timeout == 120.0 and waits[0].interval == 5.0
    assert isinstance(waits[0].until, model.ProbeExpect)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h"]))
def test_durations_parse_to_seconds(amount: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    assert parse_duration(f"{amount}{unit}") == pytest.approx(amount * factor)
    assert parse_duration(amount) == float(amount)


@given(
    st.one_of(st.none(), st.floats(-1e6, 1e6)),
    st.one_of(st.none(), st.floats(-1e6, 1e6)),
    st.floats(-1e6, 1e6),
)
def test_range_holds_exactly_within_its_bounds(lo: float | None, hi: float | None, value: float) -> None:
    expected = (lo is None or value >= lo) and (hi is None or value <= hi)
    assert Range(lo, hi).holds(value) is expected


@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 10**6), max_size=4),
    st.data(),
)
def test_overrides_take_the_type_of_their_default(defaults: dict[str, int], data: st.DataObject) -> None:
    overrides = {k: str(data.draw(st.integers(0, 10**6))) for k in defaults}
    values = resolve_parameters(defaults, overrides)
    assert values == {k: int(v) for k, v in overrides.items()}
