"""Paths built from untrusted data (a model's reply, a config, a run directory, an imported file).

The rule: a path from untrusted data must resolve inside the outputs directory it is meant for. Build
one component with :func:`safe_component`, join and check with :func:`inside`.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmaker.errors import BenchmakerError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class UnsafePathError(BenchmakerError):
    """A path from untrusted data would leave the directory it belongs in."""


def safe_component(text: str, fallback: str = "x", max_length: int = 60) -> str:
    """One path component from any text: runs of other characters become ``-``; never empty, never
    ``.``/``..``, no leading dot, no separator."""
    cleaned = _UNSAFE.sub("-", str(text)).strip("-.")[:max_length].strip("-.")
    return cleaned or fallback


def inside(base: Path | str, *parts: Path | str) -> Path:
    """``base`` joined with ``parts``, provided the result resolves inside ``base`` (symlinks followed).

    Raises:
        UnsafePathError: for an absolute part, ``..`` climbing out, or a symlink pointing out.
    """
    root = Path(base).resolve()
    candidate = root.joinpath(*parts).resolve()
    if candidate != root and root not in candidate.parents:
        shown = "/".join(str(p) for p in parts)
        raise UnsafePathError(f"refusing path {shown!r}: it leaves {root}")
    return candidate
