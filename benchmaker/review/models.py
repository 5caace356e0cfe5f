"""The records of human review: one decision per line of ``reviews.jsonl``, and an item's state after them.

A decision is accept, reject (with a reason) or correct (new key, option or question text, with a
note). Every decision keeps the item's content before it and after it, and the decision it was based
on, so the log alone tells the whole history of an item; the run's ``benchmark.jsonl`` is never
rewritten. An item's state is the fold of its decisions in log order: the last decision counts,
corrections accumulate as numbered revisions.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmaker.config import LETTERS
from benchmaker.items import MCQ, normalize_text, utc_now

Action = Literal["accept", "reject", "correct"]
Status = Literal["unreviewed", "accepted", "rejected", "corrected"]

REJECT_REASONS: dict[str, str] = {
    "wrong_key": "the key is wrong",
    "ambiguous": "more than one option is right, or none is",
    "flawed_question": "the question is unclear, broken or asks several things",
    "off_requirement": "not what the requirement asks for",
    "duplicate": "repeats another item",
    "other": "another reason (say which in the note)",
}
"""Reasons a reviewer can give for a rejection, in the order the page offers them (keys 1-6)."""

RejectReason = Literal["wrong_key", "ambiguous", "flawed_question", "off_requirement", "duplicate", "other"]

MAX_NOTE = 2000
_REVIEWER = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def reviewer_problem(name: str) -> str | None:
    """Why ``name`` cannot name a reviewer (None when it can): 1-64 characters, no control characters."""
    if not isinstance(name, str) or not _REVIEWER.match(name) or not name.strip():
        return "a reviewer name is 1-64 characters without control characters"
    return None


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemContent(_Record):
    """What a reviewer can change: the question, the options and which one is the key."""

    question: str
    choices: list[str]
    answer_index: int = Field(ge=0)

    @model_validator(mode="after")
    def _valid(self) -> ItemContent:
        MCQ(question=self.question, choices=tuple(self.choices), answer_index=self.answer_index)
        return self

    @property
    def answer(self) -> str:
        return LETTERS[self.answer_index]

    def key_text(self) -> str:
        return normalize_text(self.choices[self.answer_index])

    def key_changed(self, other: ItemContent) -> bool:
        """Whether ``other`` keys another answer: another letter, or other text in the keyed option."""
        return self.answer_index != other.answer_index or self.key_text() != other.key_text()


class ReviewDecision(_Record):
    """One line of ``reviews.jsonl``."""

    schema_version: Literal[1] = 1
    decision_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: str = Field(default_factory=utc_now)
    reviewer: str
    item_id: str = Field(min_length=1, max_length=200)
    action: Action
    reason: RejectReason | None = Field(default=None, description="Why it was rejected (reject only).")
    note: str = Field(default="", max_length=MAX_NOTE, description="The reviewer's words; required for a correction.")
    based_on: str | None = Field(
        default=None, description="The item's latest decision when the reviewer's page was rendered (None: none)."
    )
    before: ItemContent = Field(description="The item as it stood before this decision (earlier revisions applied).")
    after: ItemContent | None = Field(default=None, description="The item after it; None when rejected.")
    revision: int = Field(ge=0, description="Corrections of this item up to and including this decision.")

    @field_validator("reviewer")
    @classmethod
    def _reviewer(cls, value: str) -> str:
        if (problem := reviewer_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ReviewDecision:
        if self.action == "reject":
            if self.reason is None:
                raise ValueError("a rejection needs a reason")
            if self.after is not None:
                raise ValueError("a rejection has no content after it")
        elif self.reason is not None:
            raise ValueError(f"only a rejection has a reason, not {self.action}")
        if self.action == "accept" and self.after != self.before:
            raise ValueError("an acceptance leaves the item as it was")
        if self.action == "correct":
            if self.after is None or self.after == self.before:
                raise ValueError("a correction must change the question, an option or the key")
            if not self.note.strip():
                raise ValueError("a correction needs a note saying what was wrong")
        return self

    @property
    def key_changed(self) -> bool:
        return self.action == "correct" and self.after is not None and self.before.key_changed(self.after)


class ItemState(_Record):
    """An item after every decision on it, in log order."""

    item_id: str
    status: Status
    content: ItemContent
    """The item as reviewed: the original with every correction applied (as it was, if rejected)."""
    revision: int = 0
    decisions: list[ReviewDecision] = Field(default_factory=list)

    @property
    def last(self) -> ReviewDecision | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def last_id(self) -> str | None:
        return self.decisions[-1].decision_id if self.decisions else None

    @property
    def key_changed(self) -> bool:
        """Whether the reviewed content keys another answer than the generated item did."""
        return bool(self.decisions) and self.decisions[0].before.key_changed(self.content)

    @property
    def original(self) -> ItemContent:
        return self.decisions[0].before if self.decisions else self.content


def fold(item_id: str, original: ItemContent, decisions: list[ReviewDecision]) -> ItemState:
    """The state of one item from its decisions (already filtered to it, in log order)."""
    content, revision, status = original, 0, "unreviewed"
    for decision in decisions:
        if decision.action == "reject":
            status = "rejected"
            continue
        content = decision.after or content
        revision = decision.revision
        status = "corrected" if revision > 0 else "accepted"
    return ItemState(item_id=item_id, status=status, content=content, revision=revision, decisions=list(decisions))
