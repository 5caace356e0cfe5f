"""The records a run writes: accepted items, rejections, and the drafts a method hands over."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmaker.config import LETTERS, MAX_OPTIONS


def normalize_text(text: str) -> str:
    """Case-, width- and whitespace-insensitive form used to compare options and questions."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_LETTER_LABEL = re.compile(r"^\s*\(?[A-J][.):]\s")
_BARE_LETTER = re.compile(r"^\s*\(?[A-J][.):]?\s*$")


def letter_labelled(choices: list[str] | tuple[str, ...]) -> bool:
    """Whether a generator wrote letter labels into the choices: "A. 18", "(B) 24", or only "A".."D".

    Such choices read wrong once the options are shuffled ("A. C. 24"), or say nothing at all, so
    generated items that carry them are rejected. (A question whose answers really are the letters
    of points or vertices is turned down too; write "point A" for those.) Imported benchmarks are
    left as they are.
    """
    labelled = sum(bool(_LETTER_LABEL.match(choice)) for choice in choices) >= 2
    return labelled or all(_BARE_LETTER.match(choice) for choice in choices)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class MCQ(BaseModel):
    """A validated multiple-choice question. Invalid input is rejected, never repaired."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    choices: tuple[str, ...] = Field(min_length=2, max_length=MAX_OPTIONS)
    answer_index: int = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> MCQ:
        if not self.question.strip():
            raise ValueError("question is blank")
        if any(not c.strip() for c in self.choices):
            raise ValueError("a choice is blank")
        normalized = [normalize_text(c) for c in self.choices]
        if len(set(normalized)) != len(normalized):
            raise ValueError("choices are not unique")
        if self.answer_index >= len(self.choices):
            raise ValueError(f"answer_index {self.answer_index} is out of range for {len(self.choices)} choices")
        return self

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]

    def content_id(self) -> str:
        """Stable id from the normalised question and choices."""
        key = normalize_text(self.question) + "\x1f" + "\x1f".join(normalize_text(c) for c in self.choices)
        return "q-" + hashlib.sha256(key.encode()).hexdigest()[:12]


class BenchmarkItem(BaseModel):
    """One line of ``benchmark.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    choices: list[str]
    answer: str = Field(pattern=r"^[A-J]$")
    answer_index: int = Field(ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> BenchmarkItem:
        MCQ(question=self.question, choices=tuple(self.choices), answer_index=self.answer_index)
        if self.answer != LETTERS[self.answer_index]:
            raise ValueError(f"answer {self.answer} does not match answer_index {self.answer_index}")
        return self

    @property
    def attempt(self) -> int:
        return int(self.metadata["attempt"])

    @property
    def difficulty(self) -> float | None:
        """The difficulty label the method gave (1 + 10 x solver error rate), if it gave one."""
        label = self.metadata.get("difficulty")
        return None if label is None else float(label)


class Draft(BaseModel):
    """What a generation method returns for an attempt it did not reject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt: int = Field(ge=0)
    mcq: MCQ
    metadata: dict[str, Any] = Field(default_factory=dict)
    option_fields: dict[str, list[int | None]] = Field(default_factory=dict)
    """Provenance that names options (solver answers, judge labels) as indices into ``mcq.choices``.
    When the options are shuffled into their final order these become letters of that order."""


class Rejection(BaseModel):
    """One line of ``rejections.jsonl``: a failed attempt is data, with its stage and reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt: int = Field(ge=0)
    stage: str
    reason: str
    detail: str = ""
    draft: MCQ | None = None
    """The question that was turned down, once there was one (its key as the generator gave it)."""
    evidence: dict[str, Any] = Field(default_factory=dict)
    """What the verification found before turning it down (e.g. the answer-key program and its run)."""
    created_at: str = Field(default_factory=utc_now)


class CallRecord(BaseModel):
    """One line of ``llm_calls.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    model: str
    prompt_id: str
    request_hash: str
    cached: bool
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    latency_s: float = 0.0
    """Seconds this call took (0 when answered from the cache)."""
    first_latency_s: float = 0.0
    """Seconds the call took when it was first made, cached or not: what the method costs in time."""
    first_cost_usd: float | None = None
    """Dollars the call cost when it was first made (a cache replay keeps them); None in older logs."""
    n: int = 1
    attempt: int | None = None
    retries: int = 0
    """Transient failures (429, 5xx, timeouts, resets) this call met and retried before it ended."""
    error: str | None = None
    """Set when the call failed for good (after its retries): nothing was answered or paid."""
    created_at: str = Field(default_factory=utc_now)
