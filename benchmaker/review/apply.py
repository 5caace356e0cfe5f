"""Applying review decisions to items: what a release publishes once reviewers have spoken.

* rejected: left out, whatever came before;
* corrected (one or more corrections, possibly accepted afterwards): the last revision's question,
  options and key, ``key_evidence: human``, and the revisions in ``metadata.review``;
* accepted: as generated, its evidence level kept, the acceptance in ``metadata.review``;
* unreviewed: as generated (left out when a release asks for reviewed items only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import LETTERS
from benchmaker.items import BenchmarkItem
from benchmaker.review.models import ItemContent, ItemState, ReviewDecision, fold

HUMAN = "human"


class Revision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: int
    reviewer: str
    at: str
    note: str
    decision_id: str
    before: ItemContent
    after: ItemContent


class ReviewProvenance(BaseModel):
    """``metadata.review`` of a reviewed item, and the review part of a released item's provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str = Field(description="accepted or corrected.")
    revision: int = Field(description="Corrections applied (0: accepted as generated).")
    reviewer: str = Field(description="Who made the last decision.")
    at: str
    decision_id: str
    original_key_evidence: str | None = Field(description="The evidence level the generated key had.")
    key_changed: bool = Field(description="Whether the reviewed key differs from the generated one.")
    revisions: list[Revision] = Field(default_factory=list, description="Every correction, oldest first.")


def provenance(state: ItemState, original_level: Any) -> ReviewProvenance:
    last = state.last
    assert last is not None and state.status in ("accepted", "corrected")
    revisions = [
        Revision(
            revision=d.revision,
            reviewer=d.reviewer,
            at=d.at,
            note=d.note,
            decision_id=d.decision_id,
            before=d.before,
            after=d.after,
        )
        for d in state.decisions
        if d.action == "correct" and d.after is not None
    ]
    return ReviewProvenance(
        status=state.status,
        revision=state.revision,
        reviewer=last.reviewer,
        at=last.at,
        decision_id=last.decision_id,
        original_key_evidence=original_level if isinstance(original_level, str) else None,
        key_changed=state.key_changed,
        revisions=revisions,
    )


def reviewed_item(item: BenchmarkItem, state: ItemState) -> BenchmarkItem:
    """``item`` as the review left it (``state`` must be accepted or corrected)."""
    record = provenance(state, item.metadata.get("key_evidence"))
    metadata = {**item.metadata, "review": record.model_dump(mode="json")}
    if state.status == "accepted":
        return item.model_copy(update={"metadata": metadata})
    content = state.content
    metadata["key_evidence"] = HUMAN
    return BenchmarkItem(
        id=item.id,
        question=content.question,
        choices=list(content.choices),
        answer=LETTERS[content.answer_index],
        answer_index=content.answer_index,
        metadata=metadata,
    )


@dataclass(frozen=True)
class Reviewed:
    kept: list[BenchmarkItem]
    """Items to publish, as reviewed, in their original order."""
    rejected: list[ItemState]
    unreviewed: list[str]
    """Ids of items no reviewer decided (kept unless only reviewed items are wanted)."""


def apply_reviews(items: list[BenchmarkItem], decisions: list[ReviewDecision], *, only_reviewed: bool) -> Reviewed:
    by_item: dict[str, list[ReviewDecision]] = {}
    for decision in decisions:
        by_item.setdefault(decision.item_id, []).append(decision)
    kept, rejected, unreviewed = [], [], []
    for item in items:
        original = ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)
        state = fold(item.id, original, by_item.get(item.id, []))
        if state.status == "rejected":
            rejected.append(state)
        elif state.status == "unreviewed":
            unreviewed.append(item.id)
            if not only_reviewed:
                kept.append(item)
        else:
            kept.append(reviewed_item(item, state))
    return Reviewed(kept=kept, rejected=rejected, unreviewed=unreviewed)
