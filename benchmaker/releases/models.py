"""The records of a release: its items, what was dropped and why, gate results, release.json, history."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmaker.config import LETTERS
from benchmaker.items import MCQ, utc_now
from benchmaker.review.apply import ReviewProvenance


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemSource(_Record):
    """Where a released item was generated (or written), and what reviewers decided about it."""

    run_id: str
    item_id: str
    config_hash: str = ""
    origin: Literal["generated", "human"] = Field(
        default="generated", description="human: written by a person (release create --human FILE)."
    )
    review: ReviewProvenance | None = Field(
        default=None, description="The review that accepted or corrected it (corrections: every revision)."
    )


class ReleaseItem(_Record):
    """One line of a version's ``items.jsonl``. ``id`` hashes the normalised question and choices."""

    id: str
    question: str
    choices: list[str]
    answer: str = Field(pattern=r"^[A-J]$")
    answer_index: int = Field(ge=0)
    subject: str
    first_version: int = Field(ge=1, description="The version that first published this item.")
    anchor: bool = Field(default=False, description="Carried over from the previous version to link scores.")
    source: ItemSource
    metadata: dict[str, Any] = Field(default_factory=dict, description="The generated item's own metadata.")

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseItem:
        mcq = MCQ(question=self.question, choices=tuple(self.choices), answer_index=self.answer_index)
        if self.answer != LETTERS[self.answer_index]:
            raise ValueError(f"answer {self.answer} does not match answer_index {self.answer_index}")
        if self.id != mcq.content_id():
            raise ValueError(f"id {self.id} is not the content id of the question and choices")
        return self


class Collision(_Record):
    """The item a dropped candidate repeats."""

    origin: str = Field(description="v<N> (an earlier version), against:<file>, or candidates (this release).")
    id: str
    question: str


class Dropped(_Record):
    """A candidate left out of the release, with the reason and the item it collided with."""

    item_id: str
    question: str
    run_id: str
    reason: Literal["exact_duplicate", "near_duplicate", "ngram_overlap"]
    collided_with: Collision
    score: float | None = Field(default=None, description="near_duplicate: the cosine similarity.")
    detail: str = Field(default="", description="ngram_overlap: the shared word n-gram.")


GateStatus = Literal["passed", "failed", "not_evaluated"]


class GateResult(_Record):
    name: str
    status: GateStatus
    value: float | None = None
    threshold: float | None = None
    reason: str = ""
    blocks: bool = Field(description="Whether this result keeps the version from being published.")


class SourceRun(_Record):
    run_id: str
    run_dir: str
    config_hash: str
    seed: int | None = None
    status: str = ""
    items: int
    method: str = ""
    requirement: str = ""
    models: dict[str, Any] = Field(default_factory=dict)
    prompt_versions: dict[str, Any] = Field(default_factory=dict)


class AgainstSet(_Record):
    name: str
    path: str
    items: int
    skipped: int = 0


class ReleaseCounts(_Record):
    candidates: int
    new: int
    anchors: int
    total: int
    dropped: int
    dropped_by_reason: dict[str, int]
    retired: int = Field(description="Items of the previous version not in this one.")


class ReviewedItemRef(_Record):
    """An item reviewers rejected (left out) or, in ``errata``, a published item they rejected or corrected."""

    id: str
    question: str
    status: str
    run_id: str = ""
    first_version: int | None = None
    reviewer: str
    at: str
    reason: str | None = None
    note: str = ""
    key_changed: bool = False


class RunReview(_Record):
    """What the reviews of one source run did to its items in this version."""

    run_id: str
    decisions: int
    accepted: int
    corrected: int
    rejected: int
    unreviewed: int
    left_out_unreviewed: int = Field(description="Unreviewed items left out because only reviewed items were asked.")


class ReleaseReview(_Record):
    """How human review shaped this version."""

    only_reviewed: bool
    runs: list[RunReview] = Field(default_factory=list)
    rejected: list[ReviewedItemRef] = Field(default_factory=list, description="Rejected by reviewers: not published.")
    human_items: int = Field(default=0, description="Candidates written by people (release create --human).")
    anchors_rejected: list[ReviewedItemRef] = Field(default_factory=list)
    errata: list[ReviewedItemRef] = Field(
        default_factory=list,
        description="Items of earlier versions that reviewers of the release have since rejected or corrected.",
    )


class ReleaseManifest(_Record):
    """``release.json`` of a published version, or the record of a refused one."""

    schema_version: Literal[1] = 1
    name: str
    version: int = Field(ge=1)
    status: Literal["published", "failed"]
    created_at: str = Field(default_factory=utc_now)
    kind: Literal["create", "refresh"]
    trigger: dict[str, Any] = Field(default_factory=dict, description="What started it (a Prefect flow run...).")
    previous_version: int | None = None
    sources: list[SourceRun]
    against: list[AgainstSet]
    settings: dict[str, Any]
    embedding_model: str
    counts: ReleaseCounts
    dropped: list[Dropped]
    anchors: list[str] = Field(default_factory=list, description="Ids of the anchor items.")
    quality: dict[str, Any] | None = Field(default=None, description="Per source run: criteria and checks.")
    gates: list[GateResult]
    failure_reasons: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict, description="sha256 of the version's files.")
    review: ReleaseReview | None = Field(default=None, description="Reviews honoured (None: versions made before).")


HistoryEvent = Literal["started", "published", "failed", "error"]


class HistoryEntry(_Record):
    """One line of a release's ``history.jsonl``: every attempt to make a version, whatever its end."""

    at: str = Field(default_factory=utc_now)
    event: HistoryEvent
    kind: Literal["create", "refresh"]
    version: int | None = None
    seed: int | None = None
    trigger: dict[str, Any] = Field(default_factory=dict)
    runs: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    record: str | None = Field(default=None, description="Path of the failure record, for failed attempts.")
