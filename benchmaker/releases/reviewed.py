"""Releases honour human review, and take human-written items.

* A source run's ``reviews.jsonl`` decides its items: rejected ones are never published, corrected
  ones are published as corrected (``key_evidence: human``, every revision in ``source.review``), and
  with ``only_reviewed`` unreviewed ones are left out too.
* Human-written items come from a JSONL (``release create --human FILE``): one item per line with
  ``question``, ``choices``, ``answer`` (a letter or a 0-based index) and optionally ``id``,
  ``author``, ``explanation``, ``difficulty``; they are candidates like any other (deduplicated,
  counted by the gates) and marked ``source.origin: human`` and ``key_evidence: human``.
* Reviews of a published version (``benchmaker review outputs/releases/NAME/vN``) live in
  ``<release>/reviews.jsonl``: a rejected anchor is not carried into the next version, a corrected one
  is carried as corrected, and every published item rejected or corrected since is listed as an
  erratum in the next version's record and changelog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmaker.config import LETTERS, format_validation_error
from benchmaker.errors import ConfigError
from benchmaker.items import MCQ, BenchmarkItem
from benchmaker.releases.models import ReleaseItem, ReviewedItemRef, RunReview, SourceRun
from benchmaker.review.apply import HUMAN, apply_reviews, provenance
from benchmaker.review.log import REVIEWS, read_decisions
from benchmaker.review.models import ItemContent, ItemState, fold


def _ref(state: ItemState, question: str, **extra: Any) -> ReviewedItemRef:
    last = state.last
    assert last is not None
    return ReviewedItemRef(
        id=state.item_id,
        question=question,
        status=state.status,
        reviewer=last.reviewer,
        at=last.at,
        reason=last.reason,
        note=last.note,
        key_changed=state.key_changed,
        **extra,
    )


@dataclass(frozen=True)
class ReviewedRun:
    items: list[BenchmarkItem]
    summary: RunReview
    rejected: list[ReviewedItemRef]


def review_run(run_id: str, run_dir: Path, items: list[BenchmarkItem], *, only_reviewed: bool) -> ReviewedRun:
    decisions = read_decisions(Path(run_dir) / REVIEWS)
    reviewed = apply_reviews(items, decisions, only_reviewed=only_reviewed)
    questions = {item.id: item.question for item in items}
    statuses = [item.metadata.get("review", {}).get("status") for item in reviewed.kept]
    summary = RunReview(
        run_id=run_id,
        decisions=len(decisions),
        accepted=statuses.count("accepted"),
        corrected=statuses.count("corrected"),
        rejected=len(reviewed.rejected),
        unreviewed=len(reviewed.unreviewed),
        left_out_unreviewed=len(reviewed.unreviewed) if only_reviewed else 0,
    )
    rejected = [_ref(state, questions[state.item_id], run_id=run_id) for state in reviewed.rejected]
    return ReviewedRun(items=reviewed.kept, summary=summary, rejected=rejected)


class HumanLine(BaseModel):
    """One line of a human-written items file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | int | None = None
    question: str
    choices: list[str]
    answer: str | int = Field(description="A letter A-J or a 0-based index.")
    author: str | None = Field(default=None, max_length=200)
    explanation: str | None = None
    difficulty: float | None = None


def _answer_index(answer: str | int, n: int) -> int:
    if isinstance(answer, int):
        index = answer
    elif answer.strip().upper() in LETTERS[:n] and len(answer.strip()) == 1:
        index = LETTERS.index(answer.strip().upper())
    else:
        raise ValueError(f"answer {answer!r} is neither a letter nor a 0-based index")
    if not 0 <= index < n:
        raise ValueError(f"answer {answer!r} is out of range for {n} choices")
    return index


def load_human_items(path: Path) -> tuple[SourceRun, list[BenchmarkItem]]:
    """Human-written items as candidates; any invalid line is one error naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file of human-written items") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read human-written items: {error}") from None
    run_id = f"human:{path.name}"
    items = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = HumanLine.model_validate(json.loads(text))
            index = _answer_index(line.answer, len(line.choices))
            mcq = MCQ(question=line.question, choices=tuple(line.choices), answer_index=index)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number}: not JSON ({error.msg})") from None
        except ValidationError as error:
            raise ConfigError(f"{path}:{number}: {format_validation_error(error)}") from None
        except (ValueError, RecursionError) as error:
            raise ConfigError(f"{path}:{number}: {error}") from None
        metadata: dict[str, Any] = {
            "key_evidence": HUMAN,
            "human_written": True,
            "method": "human",
            "file": path.name,
            "line": number,
        }
        metadata |= {k: v for k, v in (("author", line.author), ("explanation", line.explanation)) if v is not None}
        if line.difficulty is not None:
            metadata["difficulty"] = line.difficulty
        item_id = str(line.id) if line.id is not None else f"{path.stem}-{number}"
        items.append(
            BenchmarkItem(
                id=item_id,
                question=mcq.question,
                choices=list(mcq.choices),
                answer=mcq.answer_letter,
                answer_index=index,
                metadata=metadata,
            )
        )
    if not items:
        raise ConfigError(f"{path}: no human-written items in the file")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: two items share an id")
    source = SourceRun(run_id=run_id, run_dir=str(path.resolve()), config_hash="", items=len(items), method="human")
    return source, items


def _release_content(item: ReleaseItem) -> ItemContent:
    return ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)


def release_states(root: Path, items: list[ReleaseItem]) -> dict[str, ItemState]:
    """The release-level review state of each published item (by released id)."""
    decisions = read_decisions(Path(root) / REVIEWS)
    by_item: dict[str, list] = {}
    for decision in decisions:
        by_item.setdefault(decision.item_id, []).append(decision)
    return {item.id: fold(item.id, _release_content(item), by_item.get(item.id, [])) for item in items}


def review_anchors(root: Path, anchors: list[ReleaseItem]) -> tuple[list[ReleaseItem], list[ReviewedItemRef]]:
    """Anchors as the release's reviewers left them: rejected ones dropped, corrected ones corrected."""
    states = release_states(root, anchors)
    kept, rejected = [], []
    for anchor in anchors:
        state = states[anchor.id]
        if state.status == "rejected":
            rejected.append(_ref(state, anchor.question, first_version=anchor.first_version))
            continue
        if state.status == "unreviewed":
            kept.append(anchor)
            continue
        record = provenance(state, anchor.metadata.get("key_evidence"))
        metadata = dict(anchor.metadata)
        source = anchor.source.model_copy(update={"review": record})
        if state.status == "accepted":
            kept.append(anchor.model_copy(update={"source": source, "metadata": metadata}))
            continue
        content = state.content
        metadata["key_evidence"] = HUMAN
        corrected = MCQ(question=content.question, choices=tuple(content.choices), answer_index=content.answer_index)
        kept.append(
            ReleaseItem(
                **{
                    **anchor.model_dump(),
                    "id": corrected.content_id(),
                    "question": content.question,
                    "choices": list(content.choices),
                    "answer": corrected.answer_letter,
                    "answer_index": content.answer_index,
                    "metadata": metadata,
                    "source": source.model_dump(),
                }
            )
        )
    return kept, rejected


def errata(root: Path, published: dict[int, list[ReleaseItem]]) -> list[ReviewedItemRef]:
    """Items of earlier versions that the release's reviewers rejected or corrected."""
    found: dict[str, ReviewedItemRef] = {}
    for _version, items in sorted(published.items()):
        states = release_states(root, items)
        for item in items:
            state = states[item.id]
            if state.status in ("rejected", "corrected") and item.id not in found:
                found[item.id] = _ref(state, item.question, first_version=item.first_version)
    return list(found.values())
