"""Loads scenario files: YAML -> schema check -> parameters -> typed `model` classes.

Every problem is reported before anything runs, as `file:line:column: message` pointing at the
offending node. PyYAML's composed node tree keeps each node's start mark, and a schema error's
path (keys and indices) leads from the root node to the node it is about.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sandbox.scenarios import model
from sandbox.scenarios.model import Range, Scenario, ScenarioError, Seconds
from sandbox.scenarios.schema import camel, describe, hints, load_schema

Path_ = tuple[str | int, ...]
PARAM_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DURATION_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


PACKAGED_DIR = Path(__file__).resolve().parent / "bundled"
"""Where a wheel carries the catalogue (setup.py copies `scenarios/*.yaml` there at build time)."""
SOURCE_DIR = Path(__file__).resolve().parents[2] / model.BUNDLED_DIR_NAME
"""The top-level `scenarios/` directory of a source checkout: the source of truth."""


def bundled_dir() -> Path:
    """The catalogue: the installed copy in a wheel install, else the source tree's `scenarios/`.

    The packaged copy exists only in a built wheel, never in the source tree, so a checkout or an
    editable install always reads the files being edited; an installed wheel never looks outside
    its own package (a stray `scenarios/` next to site-packages is not ours).
    """
    return PACKAGED_DIR if PACKAGED_DIR.is_dir() else SOURCE_DIR


def bundled_paths() -> list[Path]:
    return sorted(bundled_dir().glob("*.yaml"))


def bundled_name(path: Path) -> str:
    """`07-v1-to-v2-migration.yaml` -> `v1-to-v2-migration` (the order prefix is dropped)."""
    stem = path.stem
    head, _, rest = stem.partition("-")
    return rest if head.isdigit() and rest else stem


def find(name_or_path: str) -> Scenario:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"no scenario file {name_or_path!r}: expected a readable .yaml file")
        return load_file(candidate, {})
    paths = {bundled_name(p): p for p in bundled_paths()}
    if name_or_path in paths:
        return load_file(paths[name_or_path], {})
    raise ScenarioError(
        f"no bundled scenario named {name_or_path!r}: expected a file path or one of: {', '.join(paths)}"
    )


def load_file(path: Path, overrides: Mapping[str, str]) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file: {exc.strerror or exc}", str(path)) from None
    except UnicodeDecodeError:
        raise ScenarioError("scenario file is not UTF-8 text", str(path)) from None
    return load_text(text, path, overrides)


def load_text(text: str, path: Path, overrides: Mapping[str, str]) -> Scenario:
    """Parses, validates and builds; `overrides` are `--set` values (strings)."""
    doc = _Document(text, str(path))
    doc.validate_schema()
    defaults = doc.data.get("metadata", {}).get("parameters", {}) or {}
    values = resolve_parameters(defaults, overrides, str(path))
    data = doc.substitute(values)
    built = doc.build(model.ScenarioDocument, data, ())
    _check_references(built, doc)
    return Scenario(document=built, path=path, parameter_values=values, source=text)


def resolve_parameters(
    defaults: Mapping[str, Any], overrides: Mapping[str, str], where: str = ""
) -> dict[str, int | float | str | bool]:
    """Defaults overridden by `--set` strings, each converted to its default's type."""
    values: dict[str, int | float | str | bool] = dict(defaults)
    for key, raw in overrides.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "(this scenario has no parameters)"
            raise ScenarioError(
                f"unknown parameter {key!r} in --set {key}={raw}: known parameters: {known}", where
            )
        default = defaults[key]
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                values[key] = raw.lower() == "true"
            elif isinstance(default, int):
                values[key] = int(raw)
            elif isinstance(default, float):
                values[key] = float(raw)
            else:
                values[key] = raw
        except ValueError:
            kind = type(default).__name__
            raise ScenarioError(
                f"--set {key}={raw}: expected {'true or false' if kind == 'bool' else 'an ' + kind}"
                f" like the default {default!r}",
                where,
            ) from None
    return values


def parse_duration(value: Any) -> Seconds:
    if isinstance(value, bool):
        raise ValueError("a duration")
    if isinstance(value, int | float):
        return Seconds(float(value))
    match = DURATION_RE.match(str(value))
    if not match:
        raise ValueError('a duration such as "500ms", "90s", "3m" or a number of seconds')
    return Seconds(float(match.group(1)) * _UNITS[match.group(2)])


def _found(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _where(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


class _Document:
    """One file's text, node tree and data, with positions for every path."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            self.root: yaml.Node | None = node
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            raise ScenarioError(f"invalid YAML: {problem}", filename, line, col) from None
        except yaml.YAMLError as exc:
            raise ScenarioError(f"invalid YAML: {exc}", filename) from None
        finally:
            loader.dispose()
        if not isinstance(data, dict):
            raise ScenarioError(
                f"found {_found(data)}, expected a mapping with apiVersion, kind, metadata and steps",
                filename,
                1,
                1,
            )
        self.data: dict[str, Any] = data

    # --- positions -----------------------------------------------------------------------------
    def node_at(self, path: Path_, key_of_last: bool = False) -> Any:
        """The node at `path`; with `key_of_last`, the key node of the last mapping step."""
        node: Any = self.root
        for i, part in enumerate(path):
            if isinstance(node, yaml.MappingNode):
                pair = next((p for p in node.value if p[0].value == part), None)
                if pair is None:
                    return node
                if key_of_last and i == len(path) - 1:
                    return pair[0]
                node = pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                return node
        return node

    def error(self, message: str, path: Path_, key_of_last: bool = False) -> ScenarioError:
        node = self.node_at(path, key_of_last)
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        return ScenarioError(message, self.filename, line, col)

    # --- schema --------------------------------------------------------------------------------
    def validate_schema(self) -> None:
        validator = jsonschema.Draft202012Validator(load_schema())
        errors = list(validator.iter_errors(self.data))
        # An unknown key next to a missing one is most likely its typo: report the typo.
        typo_at = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
        errors = [e for e in errors if not (e.validator == "required" and tuple(e.absolute_path) in typo_at)]
        problems = [self._explain(e) for e in errors]
        if problems:
            problems.sort(key=lambda err: (err.line, err.column))
            raise problems[0]

    def _explain(self, err: jsonschema.ValidationError) -> ScenarioError:
        path: Path_ = tuple(err.absolute_path)
        where, instance = _where(path), typing.cast(Any, err.instance)
        if not isinstance(err.schema, Mapping):
            return self.error(f"{where}: {err.message}", path)
        schema: Mapping[str, Any] = err.schema
        if err.validator == "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            extra = sorted(k for k in instance if k not in allowed)
            return self.error(
                f"{where}: unknown field {extra[0]!r}; expected one of: {', '.join(allowed)}",
                (*path, extra[0]),
                key_of_last=True,
            )
        if err.validator == "required":
            missing = [k for k in schema["required"] if k not in instance]
            return self.error(f"{where}: missing required field {missing[0]!r}", path)
        if err.validator in ("minProperties", "maxProperties") and "propertyNames" in schema:
            keys = ", ".join(instance) or "no key"
            return self.error(f"{where}: found {keys}, expected {describe(schema)}", path)
        return self.error(f"{where}: found {_found(instance)}, expected {describe(schema)}", path)

    # --- parameters ----------------------------------------------------------------------------
    def substitute(self, values: Mapping[str, Any]) -> Any:
        def walk(value: Any, path: Path_) -> Any:
            if isinstance(value, dict):
                if path == ("metadata",):
                    return {k: (v if k == "parameters" else walk(v, (*path, k))) for k, v in value.items()}
                return {k: walk(v, (*path, k)) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, (*path, i)) for i, v in enumerate(value)]
            if isinstance(value, str) and "${" in value:
                return self._substitute_text(value, values, path)
            return value

        return walk(self.data, ())

    def _substitute_text(self, text: str, values: Mapping[str, Any], path: Path_) -> Any:
        for name in PARAM_RE.findall(text):
            if name not in values:
                known = ", ".join(sorted(values)) or "none (declare them in metadata.parameters)"
                raise self.error(
                    f"{_where(path)}: unknown parameter ${{{name}}}; known parameters: {known}", path
                )
        whole = PARAM_RE.fullmatch(text)
        if whole:
            return values[whole.group(1)]
        return PARAM_RE.sub(lambda m: str(values[m.group(1)]), text)

    # --- typed build ---------------------------------------------------------------------------
    def build(self, tp: Any, value: Any, path: Path_) -> Any:
        try:
            return self._build(tp, value, path)
        except ValueError as exc:
            raise self.error(f"{_where(path)}: found {_found(value)}, expected {exc}", path) from None

    def _build(self, tp: Any, value: Any, path: Path_) -> Any:
        if tp is Seconds:
            return parse_duration(value)
        if tp is Range:
            if isinstance(value, Mapping):
                lo, hi = value.get("min"), value.get("max")
                return Range(
                    None if lo is None else self._number(lo), None if hi is None else self._number(hi)
                )
            number = self._number(value)
            return Range(number, number)
        if tp is str:
            if isinstance(value, Mapping | list):
                raise ValueError("text")
            return str(value)
        if tp is bool:
            if not isinstance(value, bool):
                raise ValueError("true or false")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("an integer")
            return value
        if tp is float:
            return self._number(value)
        if tp is Any:
            return value
        if tp == model.Operation:
            return self._one_key(model.OPERATION_TYPES, value, path)
        if tp == model.Expectation:
            return self._one_key(model.EXPECTATION_TYPES, value, path)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Literal:
            if value not in args:
                raise ValueError("one of " + ", ".join(json.dumps(a) for a in args))
            return value
        if origin in (typing.Union, types.UnionType):
            return self._union(args, value, path)
        if origin is tuple:
            if not isinstance(value, list):
                raise ValueError("a list")
            return tuple(self.build(args[0], v, (*path, i)) for i, v in enumerate(value))
        if origin in (Mapping, dict):
            if not isinstance(value, Mapping):
                raise ValueError("a mapping")
            return {str(k): self.build(args[1], v, (*path, str(k))) for k, v in value.items()}
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            if not isinstance(value, Mapping):
                raise ValueError("a mapping")
            field_types = hints(tp)
            kwargs = {
                f.name: self.build(field_types[f.name], value[camel(f.name)], (*path, camel(f.name)))
                for f in dataclasses.fields(tp)
                if camel(f.name) in value
            }
            return tp(**kwargs)
        raise TypeError(f"cannot build {tp!r}")

    def _union(self, args: Sequence[Any], value: Any, path: Path_) -> Any:
        members = [a for a in args if a is not type(None)]
        if value is None and len(members) < len(args):
            return None
        if all(m in (int, float, str, bool) for m in members):
            return value
        errors = []
        for member in members:
            try:
                return self._build(member, value, path)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(" or ".join(errors))

    def _one_key(self, types_: tuple[type[Any], ...], value: Any, path: Path_) -> Any:
        ((key, body),) = value.items()
        cls = next(t for t in types_ if t.key == key)
        return self.build(cls, body if body is not None else {}, (*path, key))

    @staticmethod
    def _number(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("a number")
        return float(value)


def _check_references(doc: model.ScenarioDocument, src: _Document) -> None:
    """Cross-field rules a schema cannot say: ids, indices in range, outcome references."""
    apiservers, plugins = doc.cluster.apiservers, len(doc.plugin.apis) or doc.plugin.count
    for s, step in enumerate(doc.steps):
        ids: list[str] = []
        for o, op in enumerate(step.operations):
            base: Path_ = ("steps", s, "operations", o, op.key)
            op_id = getattr(op, "id", "")
            if op_id:
                if op_id in ids:
                    raise src.error(
                        f"{_where(base)}: duplicate operation id {op_id!r} in this step", (*base, "id")
                    )
                ids.append(op_id)
            _check_index(src, op, "apiserver", apiservers, "cluster.apiservers", base)
            _check_index(src, op, "plugin", plugins, "plugin.count", base)
        for e, exp in enumerate(step.expect):
            base = ("steps", s, "expect", e, exp.key)
            if isinstance(exp, model.OutcomeExpect):
                if not step.operations:
                    raise src.error(f"{_where(base)}: an outcome needs an operation in the same step", base)
                if exp.of and exp.of not in ids:
                    known = ", ".join(ids) or "none"
                    raise src.error(
                        f"{_where(base)}: no operation with id {exp.of!r} in this step; ids: {known}",
                        (*base, "of"),
                    )
            _check_index(src, exp, "apiserver", apiservers, "cluster.apiservers", base)
            _check_index(src, exp, "plugin", plugins, "plugin.count", base)


def _check_index(src: _Document, item: Any, attr: str, limit: int, setting: str, base: Path_) -> None:
    value = getattr(item, attr, None)
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value < limit:
        raise src.error(
            f"{_where(base)}: {attr} {value} is out of range: expected 0..{limit - 1} ({setting} is {limit})",
            (*base, attr),
        )
