"""Key evidence levels: how an item's answer key is supported, and which levels a run accepts.

The levels and their meaning are documented on ``benchmaker.config.KeyEvidence``; human review adds
``human``. Everything that asks "is this key program-backed?" asks it here.
"""

from __future__ import annotations

from typing import get_args

from benchmaker.config import KeyEvidence

LEVELS: tuple[str, ...] = (*get_args(KeyEvidence), "human")
PROGRAM_BACKED: tuple[str, ...] = ("program+generator", "program+judge", "program+solvers")
"""The default accepted levels when keys are verified by program: a majority of programs and one more
derivation agree. ``program`` alone (unconfirmed repair) is program-computed but not accepted by default."""


def is_program_backed(level: object) -> bool:
    """Whether a sandboxed program computed this key (alone or with another derivation)."""
    return isinstance(level, str) and level.startswith("program")


def accepted_levels(setting: str | tuple[str, ...], program_verification: bool) -> tuple[str, ...]:
    """The levels a run accepts: the configured list, or (auto) program-backed only when keys are verified
    by program, any level otherwise."""
    if setting != "auto":
        return tuple(setting)
    return PROGRAM_BACKED if program_verification else tuple(level for level in LEVELS if level != "human")
