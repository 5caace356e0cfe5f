"""Reading files a user, a run directory or someone else handed over: text, YAML and JSON, each failure
one line naming the file and the problem.

YAML is read with a loader that measures the document as it would be once its aliases are expanded:
a few hundred bytes of nested aliases (a "billion laughs" file) would otherwise pass validation and
blow up to gigabytes wherever the data is copied or serialised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from benchmaker.errors import BenchmakerError

MAX_YAML_NODES = 200_000
"""Nodes of one YAML document with its aliases expanded (a large config has a few hundred)."""
MAX_DEPTH = 100
"""Nesting of a YAML document or a JSON value; more is never a real config, reply or item."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python objects); the composed graph is sized before it is built."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], depth: int = 0) -> int:
    """Nodes of ``node`` with aliases expanded, in time linear in the (shared) graph."""
    if depth > MAX_DEPTH:
        raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels (or a recursive alias)")
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, depth + 1)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, sizes, depth + 1) + _expanded_size(value, sizes, depth + 1)
    if total > MAX_YAML_NODES:
        raise _TooLarge(f"expands to more than {MAX_YAML_NODES:,} nodes through its aliases (an alias bomb?); refused")
    sizes[id(node)] = total
    return total


class _TooLarge(Exception):
    pass


def read_text(path: Path, what: str, error: type[BenchmakerError]) -> str:
    """A file's text, or ``error`` with one line: cannot read it, or it is not UTF-8."""
    try:
        data = Path(path).read_bytes()
    except OSError as caught:
        raise error(f"cannot read {what} {path}: {caught.strerror or caught}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as caught:
        line = data.count(b"\n", 0, caught.start) + 1
        raise error(f"{what} {path} is not UTF-8 text (line {line}, byte 0x{data[caught.start]:02x})") from None


def parse_yaml(text: str, source: str, error: type[BenchmakerError]) -> Any:
    """One YAML document, safely: bounded in expanded size and depth."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        return loader.construct_document(node)
    except yaml.YAMLError as caught:
        raise error(f"invalid YAML in {source}: {_first_line(caught)}") from None
    except _TooLarge as caught:
        raise error(f"invalid YAML in {source}: {caught}") from None
    except RecursionError:
        raise error(f"invalid YAML in {source}: nested too deeply") from None
    except ValueError as caught:  # an integer of more than 4,300 digits, a date out of range...
        raise error(f"invalid YAML in {source}: {_first_line(caught)[:120]}") from None
    finally:
        loader.dispose()


def load_yaml(path: Path, what: str, error: type[BenchmakerError]) -> Any:
    return parse_yaml(read_text(path, what, error), f"{what} {path}", error)


def parse_json(text: str, source: str, error: type[BenchmakerError]) -> Any:
    """One JSON value, or ``error`` with one line (invalid, too deep, numbers too long)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as caught:
        raise error(f"{source}: not JSON ({caught.msg} at column {caught.colno})") from None
    except RecursionError:
        raise error(f"{source}: JSON nested too deeply") from None
    except ValueError as caught:  # an integer of more than 4,300 digits
        raise error(f"{source}: unreadable JSON ({_first_line(caught)[:120]})") from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise error(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return False


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
