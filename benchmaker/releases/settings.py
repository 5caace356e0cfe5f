"""What a release and a scheduled refresh are configured with: the ``release:`` section of a run config.

This module imports nothing from the rest of benchmaker, so that ``benchmaker.config`` can use it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_RELEASE_EMBEDDER = "all-MiniLM-L6-v2"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VERSION = re.compile(r"^v?([1-9][0-9]{0,5})$")


def release_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a release (None when it can).

    A release name becomes one directory under ``outputs/releases/``: letters, digits, ``.``, ``_`` and
    ``-``, starting with a letter or digit, at most 64 characters. No separator, no ``..``, no hidden name.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        return (
            f"invalid release name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return None


def parse_version(text: str | int) -> int:
    """``v3``, ``3`` or ``3`` as an int -> 3; anything else raises ValueError with a one-line reason."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise ValueError(f"invalid version {text!r}: expected v1, v2, ... (or 1, 2, ...)")
    return int(match.group(1))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True)


class DedupSettings(_Strict):
    """How a candidate item is found to repeat an earlier version or a public set."""

    semantic_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Embedding cosine at or above which two items are the same item."
    )
    ngram: int = Field(
        default=13,
        ge=5,
        le=50,
        description="Word n-gram size of the overlap check against --against sets (lm-evaluation-harness uses 13).",
    )
    embedder: str = Field(
        default=DEFAULT_RELEASE_EMBEDDER,
        min_length=1,
        description="A sentence-transformers model, or hashing (the offline fake, for tests).",
    )


class GateSettings(_Strict):
    """What a version must meet to be published. Unset gates are not applied."""

    min_items: int = Field(default=1, ge=0, description="New (non-anchor) items after dedup.")
    min_program_backed_share: float | None = Field(
        default=None, ge=0, le=1, description="Share of new items whose key a program backs (key_evidence program*)."
    )
    max_contamination: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of new items the memorisation check flags; not evaluated (and not blocking) while the "
        "scoring report has no computable contamination check.",
    )
    min_faithfulness: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Length-debiased judge faithfulness of the source runs; fails when it cannot be computed.",
    )


class ReleaseScoring(_Strict):
    """How a refresh scores its new run before the gates (panel and judge are the config's models)."""

    enabled: bool = Field(default=True, description="Score the new run before the gates (gates on quality need it).")
    choices_only: bool = Field(default=False, description="Also the choices-only pass (doubles the panel's calls).")
    samples: int = Field(default=1, ge=1, le=20, description="Answers per panel model per item.")


class ReleaseSettings(_Strict):
    """The ``release:`` section of a config: used by ``release create --config`` and by the refresh flow."""

    anchors: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Items carried over from the previous version so scores on two versions can be linked.",
    )
    against: tuple[Path, ...] = Field(
        default=(), description="Public sets (JSONL or MMLU-style CSV) no released item may repeat."
    )
    dedup: DedupSettings = DedupSettings()
    gates: GateSettings = GateSettings()
    scoring: ReleaseScoring = ReleaseScoring()
    only_reviewed: bool = Field(
        default=False,
        description="Publish only items a reviewer accepted or corrected (benchmaker review); rejected items are "
        "never published either way.",
    )
    human: tuple[Path, ...] = Field(
        default=(),
        description="JSONL files of human-written items (question, choices, answer; optional id, author, "
        "explanation, difficulty) added to every version as candidates, marked key_evidence human.",
    )
    license: str = Field(default="unknown", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.+-]+$")
    """The dataset card's license id (the Hugging Face hub's ids: cc-by-4.0, mit, other, unknown...)."""

    def with_against_relative_to(self, base: Path) -> ReleaseSettings:
        """Relative ``against`` and ``human`` paths in a config file are relative to the file, not the shell's."""

        def resolve(paths: tuple[Path, ...]) -> tuple[Path, ...]:
            return tuple(p if p.is_absolute() else (base / p) for p in paths)

        return self.model_copy(update={"against": resolve(self.against), "human": resolve(self.human)})
