"""What the pages show: filters over the items, and each item's evidence pulled out of its metadata.

Metadata comes from a model or a file: every value is type-checked here before a template sees it
(a list where a dict is expected shows nothing rather than failing), and templates escape all of it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmaker.config import LETTERS
from benchmaker.review.models import ItemState
from benchmaker.review.source import SourceItem

LEVEL_MEANINGS = {
    "program+generator": "a majority of programs computed the key's value and the generator's own key says the same",
    "program+judge": "a majority of programs computed it and the judge confirmed it twice, in both orders",
    "program+solvers": "choices built around the programs' value, which the solvers' majority then chose",
    "program": "the programs alone (options repaired on their word)",
    "generator+solvers": "no program ran; the generator's key is the solvers' most frequent answer",
    "judge": "the judge named it twice in swapped orders (solvers or programs disagreed)",
    "generator": "the generator's word alone",
    "human": "a reviewer set it",
    "unrecorded": "the run recorded no evidence level (the direct method keeps the generator's word alone)",
}
DIFFICULTY_BUCKETS = {"easy": (None, 4.0), "medium": (4.0, 8.0), "hard": (8.0, None)}
"""Difficulty labels run from 1 (every solver answer right) to 11 (all wrong): easy < 4 <= medium < 8 <= hard."""
JSON_CHARS = 60_000


class Filters(BaseModel):
    """The list's filters, from the query string (unknown values are refused, never guessed)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["", "unreviewed", "reviewed", "accepted", "corrected", "rejected"] = ""
    level: str = Field(default="", max_length=40)
    flagged: str = Field(default="", max_length=40, description="'any', a flag name, or '' for all items.")
    difficulty: Literal["", "easy", "medium", "hard", "none"] = ""
    q: str = Field(default="", max_length=200)

    @classmethod
    def parse(cls, params: Any) -> Filters:
        try:
            return cls.model_validate({k: params.get(k, "") for k in cls.model_fields})
        except ValidationError:
            return cls()

    def query(self) -> str:
        return urlencode({k: v for k, v in self.model_dump().items() if v})

    def matches(self, item: SourceItem, state: ItemState) -> bool:
        if self.status == "reviewed" and state.status == "unreviewed":
            return False
        if self.status not in ("", "reviewed") and state.status != self.status:
            return False
        if self.level and item.key_evidence != self.level:
            return False
        flags = item.flags
        if self.flagged == "any" and not flags or self.flagged not in ("", "any") and self.flagged not in flags:
            return False
        if self.difficulty:
            label = item.difficulty
            if self.difficulty == "none":
                if label is not None:
                    return False
            else:
                low, high = DIFFICULTY_BUCKETS[self.difficulty]
                if label is None or (low is not None and label < low) or (high is not None and label >= high):
                    return False
        return not self.q or self.q.casefold() in item.content.question.casefold()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _letter(value: Any) -> str:
    return value if isinstance(value, str) and value in LETTERS else "?" if value is not None else "none"


def pretty_json(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= JSON_CHARS else text[:JSON_CHARS] + "\n... (cut: the file holds the rest)"


def _value_text(value: Any) -> str:
    return _text(_dict(value).get("text")) if isinstance(value, dict) else _text(value)


def programs_view(program: Any) -> dict[str, Any] | None:
    program = _dict(program)
    if not program:
        return None
    runs = []
    for number, entry in enumerate(_list(program.get("programs")), 1):
        tries = []
        for attempt in _list(_dict(entry).get("tries")):
            run = _dict(_dict(attempt).get("run"))
            tries.append(
                {
                    "code": _text(_dict(attempt).get("program")),
                    "ok": run.get("ok") is True,
                    "value": _value_text(run.get("value")),
                    "failure": _text(run.get("failure")),
                    "detail": _text(run.get("detail")),
                    "printed": _text(run.get("printed")),
                }
            )
        runs.append({"number": number, "tries": tries})
    clusters = [
        {"value": _value_text(_dict(c).get("value")), "programs": [int(p) + 1 for p in _list(_dict(c).get("programs"))]}
        for c in _list(program.get("clusters"))
        if all(isinstance(p, int) for p in _list(_dict(c).get("programs")))
    ]
    return {
        "outcome": _text(program.get("outcome")),
        "value": _value_text(program.get("value")),
        "requested": program.get("requested"),
        "skipped": program.get("skipped"),
        "runs": runs,
        "clusters": clusters,
        "generator_value_agrees": program.get("generator_value_agrees"),
        "match_how": _text(_dict(program.get("match")).get("how")),
    }


def solvers_view(metadata: dict[str, Any], key: str) -> dict[str, Any] | None:
    answers = [a for a in _list(metadata.get("solver_answers")) if a is None or isinstance(a, str)]
    if not answers:
        return None
    tally = Counter(_letter(a) for a in answers)
    return {
        "n": len(answers),
        "tally": [{"letter": k, "count": count, "is_key": k == key} for k, count in sorted(tally.items())],
        "key_share": tally.get(key, 0) / len(answers),
        "conflict": metadata.get("conflict"),
        "relabelled": metadata.get("relabelled"),
    }


def verdicts_view(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = _list(metadata.get("discrimination")) or _list(_dict(metadata.get("program")).get("discrimination"))
    labels = _list(metadata.get("judge_labels"))
    shown = []
    for index, verdict in enumerate(verdicts):
        verdict = _dict(verdict)
        order = _text(verdict.get("order"))
        shown.append(
            {
                "order": {"rival_first": "rival solution first", "key_first": "key's solution first"}.get(order, order),
                "score": _text(verdict.get("score")),
                "named": _letter(labels[index]) if index < len(labels) else "",
                "analysis": _text(verdict.get("analysis")),
            }
        )
    return shown


def draft_check_view(value: Any) -> dict[str, Any] | None:
    check = _dict(value)
    if not check:
        return None
    verdict = _dict(check.get("verdict"))
    readings = [
        {
            "asked": ", ".join(_text(a) for a in _list(_dict(r).get("asked"))),
            "answers_it": _dict(r).get("choices_answer_it"),
            "broken": ", ".join(_text(b) for b in _list(_dict(r).get("broken_constraints"))),
        }
        for r in _list(verdict.get("readings"))
    ]
    return {"readings": readings, "votes": verdict.get("votes"), "note": _text(check.get("note"))}


QUALITY_FIELDS = ("point_biserial", "panel_error_rate", "difficulty_label", "judge_faithfulness", "judge_alignment")


@dataclass(frozen=True)
class ItemView:
    item: SourceItem
    state: ItemState

    def evidence(self) -> dict[str, Any]:
        metadata = self.item.metadata
        key = self.state.content.answer
        return {
            "level": self.item.key_evidence,
            "meaning": LEVEL_MEANINGS.get(self.item.key_evidence, ""),
            "generator_key": [_letter(x) for x in _list(metadata.get("generator_key"))],
            "program_option": [_letter(x) for x in _list(metadata.get("program_option"))],
            "generator_value": _text(metadata.get("generator_value")),
            "options_repaired": metadata.get("options_repaired") is True,
            "repaired_option": [_letter(x) for x in _list(metadata.get("repaired_option"))],
            "programs": programs_view(metadata.get("program")),
            "solvers": solvers_view(metadata, self.item.content.answer),
            "verdicts": verdicts_view(metadata),
            "draft_check": draft_check_view(metadata.get("draft_check")),
            "solution": _text(metadata.get("solution") or metadata.get("explanation")),
            "difficulty": self.item.difficulty,
            "solver_accuracy": metadata.get("solver_accuracy"),
            "plan": {k: _text(v) for k, v in _dict(_dict(metadata.get("plan")).get("general")).items()},
            "strategy": {k: _text(v) for k, v in _dict(_dict(metadata.get("plan")).get("strategy")).items()},
            "quality": {f: (self.item.quality or {}).get(f) for f in QUALITY_FIELDS if self.item.quality},
            "flags": self.item.flags,
            "metadata_json": pretty_json(metadata),
            "key": key,
        }
