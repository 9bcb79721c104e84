"""Generates the scenario JSON Schema (draft 2020-12) from the dataclasses in `model`.

The schema is derived, never edited by hand: types come from the field annotations, defaults
from the field defaults, descriptions from the attribute docstrings in `model.py` and the two
modules it re-exports (`model_expectations.py`, `model_operations.py`). The result is
committed as `scenario.schema.json` (editors use it through the `yaml-language-server` comment at
the top of each scenario) and a test checks the committed file is up to date:

    .venv/bin/python -m sandbox.scenarios.schema > sandbox/scenarios/scenario.schema.json
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.scenarios import model, model_expectations, model_operations

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
SCHEMA_ID = "https://kms-sandbox.dev/schemas/scenario-v1.json"
PARAMETER_REF = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"

_SHARED_DEFS: dict[str, Any] = {
    "integer": {
        "description": "an integer or a ${parameter} reference",
        "anyOf": [{"type": "integer"}, {"type": "string", "pattern": PARAMETER_REF}],
    },
    "number": {
        "description": "a number or a ${parameter} reference",
        "anyOf": [{"type": "number"}, {"type": "string", "pattern": PARAMETER_REF}],
    },
    "duration": {
        "description": 'a duration: seconds as a number, or text such as "500ms", "90s", "3m", "1h"',
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
            {"type": "string", "pattern": PARAMETER_REF},
        ],
    },
    "range": {
        "description": "a number, or a mapping with min and/or max",
        "anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": PARAMETER_REF},
            {
                "type": "object",
                "properties": {"min": {"$ref": "#/$defs/number"}, "max": {"$ref": "#/$defs/number"}},
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    },
}


def camel(name: str) -> str:
    """`dek_source_type` -> `dekSourceType`: the YAML spelling of a field."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def field_docs() -> dict[tuple[str, str], str]:
    """(class name, field name) -> the docstring written under the field in the model modules."""
    nodes = [
        node
        for module in (model, model_expectations, model_operations)
        for node in ast.parse(inspect.getsource(module)).body
    ]
    docs: dict[tuple[str, str], str] = {}
    for node in nodes:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for stmt, nxt in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[(node.name, stmt.target.id)] = " ".join(nxt.value.value.split())
    return docs


def data_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    """The fields a file may set (ClassVars such as `key` are not fields)."""
    return list(dataclasses.fields(cls))


_HINTS: dict[type[Any], dict[str, Any]] = {}


def hints(cls: type[Any]) -> dict[str, Any]:
    """Resolved field annotations (the model uses `from __future__ import annotations`)."""
    if cls not in _HINTS:
        namespace = {**vars(model_expectations), **vars(model_operations), **vars(model)}
        _HINTS[cls] = typing.get_type_hints(cls, namespace)
    return _HINTS[cls]


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of one annotation; dataclasses go into `defs` and are referenced."""
    if tp is model.Seconds:
        return {"$ref": "#/$defs/duration"}
    if tp is model.Range:
        return {"$ref": "#/$defs/range"}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"$ref": "#/$defs/integer"}
    if tp is float:
        return {"$ref": "#/$defs/number"}
    if tp is Any:
        return {}
    if tp == model.Operation:
        return {"$ref": "#/$defs/operation"}
    if tp == model.Expectation:
        return {"$ref": "#/$defs/expectation"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if _is_union(tp):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return type_schema(members[0], defs)
        if all(m in (int, float, str, bool) for m in members):
            return {"type": ["integer", "number", "string", "boolean"]}
        return {"anyOf": [type_schema(m, defs) for m in members]}
    if origin is tuple:
        return {"type": "array", "items": type_schema(args[0], defs)}
    if origin in (Mapping, dict, typing.Mapping):
        return {"type": "object", "additionalProperties": type_schema(args[1], defs)}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder first: guards against recursion
            defs[name] = dataclass_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no schema mapping for annotation {tp!r}")


def dataclass_schema(cls: type[Any], defs: dict[str, Any]) -> dict[str, Any]:
    docs = field_docs()
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in data_fields(cls):
        prop = dict(type_schema(hints(cls)[f.name], defs))
        owner = next((c.__name__ for c in cls.__mro__ if (c.__name__, f.name) in docs), None)
        if owner is not None:
            prop["description"] = docs[(owner, f.name)]
        if f.default is not dataclasses.MISSING and f.default is not None:
            prop["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(camel(f.name))
        properties[camel(f.name)] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    if required:
        schema["required"] = required
    return schema


def one_key_union(types_: tuple[type[Any], ...], what: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A mapping with exactly one key naming the type, e.g. `{create: {...}}`."""
    keys = [t.key for t in types_]
    return {
        "description": f"{what}: a mapping with exactly one of the keys {', '.join(keys)}",
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "propertyNames": {"enum": keys},
        "properties": {t.key: type_schema(t, defs) for t in types_},
    }


def build_schema() -> dict[str, Any]:
    defs: dict[str, Any] = dict(_SHARED_DEFS)
    defs["operation"] = {}
    defs["expectation"] = {}
    defs["operation"] = one_key_union(model.OPERATION_TYPES, "an operation", defs)
    defs["expectation"] = one_key_union(model.EXPECTATION_TYPES, "an expectation", defs)
    root = dataclass_schema(model.ScenarioDocument, defs)
    root["properties"]["$schema"] = {"type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "kms-sandbox scenario",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=False) + "\n"


@functools.cache
def load_schema() -> dict[str, Any]:
    """The committed schema, as validation uses it."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def describe(schema: Mapping[str, Any]) -> str:
    """A short human phrase for what a schema accepts, used in error messages."""
    if "description" in schema and ("anyOf" in schema or "propertyNames" in schema):
        return str(schema["description"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    return {
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "object": "a mapping",
        "array": "a list",
    }.get(str(kind), str(kind or "a value"))


if __name__ == "__main__":
    print(schema_text(), end="")
