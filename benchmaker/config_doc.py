"""The configuration reference, generated from the pydantic models that validate a config.

``benchmaker config-schema`` prints it (Markdown, or the JSON Schema with ``--json``); ``docs/config.md``
is its output, and a test fails when that file is stale, so the knobs are documented in one place that
cannot drift from the code.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from benchmaker.config import RunConfig

HEADER = """# Configuration reference

Generated from the pydantic models in `benchmaker/config.py` by `benchmaker config-schema > docs/config.md`;
a test fails when this file is stale. A config is YAML; unknown keys are errors, and every error names its
field in one line. A model role may be written as a bare string (`solver: local`) or as a mapping.
The JSON Schema of the same models: `benchmaker config-schema --json`.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin in (tuple, list):
        inner = args[0] if args else Any
        return f"list of {_type_name(inner)}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "mapping"
        if issubclass(annotation, Enum):
            return " \\| ".join(f"`{m.value}`" for m in annotation)
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false", "Path": "path"}.get(
            annotation.__name__, annotation.__name__
        )
    if annotation is type(None):
        return "null"
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
        return ", ".join(getattr(v, "model", "?") for v in value)
    if isinstance(value, Path):
        value = str(value)
    if value is None or value is PydanticUndefined:
        return "null"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _limits(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for name, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "min length"),
                           ("max_length", "max length")):  # fmt: skip
            bound = getattr(item, name, None)
            if bound is not None:
                parts.append(f"{sign} {bound}")
    return ", ".join(parts)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel] | None, str]]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        section = _section_model(field.annotation)
        summary = ((section.__doc__ or "").strip() or "settings").splitlines()[0] if section is not None else ""
        description = field.description or (f"Section: {summary}" if section is not None else "")
        description = " ".join(description.split()).replace("|", "\\|")
        limits = _limits(field)
        line = f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {limits} | {description} |"
        yield line, section, path


def _sections() -> list[tuple[type[BaseModel], list[str]]]:
    """Every section model in reading order (depth first), with every path it appears at."""
    order: list[type[BaseModel]] = []
    paths: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], prefix: str) -> None:
        if model not in paths:
            order.append(model)
            paths[model] = []
        paths[model].append(prefix.rstrip(".") or "top level")
        if len(paths[model]) > 1:
            return  # documented once, where it first appears
        for _line, section, path in _rows(model, prefix):
            if section is not None:
                visit(section, f"{path}.")

    visit(RunConfig, "")
    return [(model, paths[model]) for model in order]


def config_reference() -> str:
    """The whole reference as Markdown: one table per section, in the order a config is read."""
    out = [HEADER]
    for model, paths in _sections():
        title = " / ".join(f"`{p}`" if p != "top level" else p for p in paths)
        doc = " ".join((model.__doc__ or "").split())
        out += [f"## {title}", "", doc, "", "| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
        prefix = "" if paths[0] == "top level" else f"{paths[0]}."
        out += [line for line, _section, _path in _rows(model, prefix)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def config_json_schema() -> str:
    return json.dumps(RunConfig.model_json_schema(), indent=2) + "\n"
