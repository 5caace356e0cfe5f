"""LLM-judged criteria: faithfulness and alignment, 0/1/2 with an analysis whose length is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import LETTERS
from benchmaker.errors import BudgetExceeded, LLMError
from benchmaker.llm.factory import RoleModel
from benchmaker.prompts import PromptLibrary
from benchmaker.scoring.benchmarks import ScoredItem

Criterion = Literal["faithfulness", "alignment"]


class Verdict(BaseModel):
    """The judge's reply: analysis first, so the score is conditioned on the checking."""

    model_config = ConfigDict(extra="forbid")

    analysis: str = Field(min_length=1)
    judgement: int = Field(ge=0, le=2)


class JudgeRecord(BaseModel):
    """One line of ``judgments.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: str
    item_id: str
    criterion: Criterion
    judgement: int | None
    score: float | None
    analysis_words: int | None
    analysis: str | None = None
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.benchmark, self.item_id, self.criterion)


def score_of(criterion: Criterion, judgement: int) -> float:
    """Faithfulness is binarised (the key is right: 1 or 2); alignment is judgement / 2 (paper §2.1)."""
    if criterion == "faithfulness":
        return 1.0 if judgement >= 1 else 0.0
    return judgement / 2


@dataclass(frozen=True)
class JudgeUnit:
    benchmark: str
    item: ScoredItem
    criterion: Criterion
    requirement: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.benchmark, self.item.id, self.criterion)


def judge_unit(unit: JudgeUnit, judge: RoleModel, prompts: PromptLibrary, max_repairs: int) -> JudgeRecord:
    item = unit.item
    letters = list(LETTERS[: len(item.choices)])
    common = {"question": item.question, "choices": list(item.choices), "letters": letters, "answer": item.answer}
    if unit.criterion == "faithfulness":
        template = prompts.get("judge.faithfulness")
        messages = template.render(**common, explanation=item.explanation or "")
    else:
        template = prompts.get("judge.alignment")
        messages = template.render(**common, requirement=unit.requirement)
    request = judge.request(
        messages,
        prompt_id=template.id,
        temperature=0.0,
        schema=Verdict.model_json_schema(),
        sample_key="judge",
    )
    fields = {"benchmark": unit.benchmark, "item_id": item.id, "criterion": unit.criterion}
    try:
        verdict = judge.complete_structured(request, Verdict, max_repairs).value
    except BudgetExceeded:
        raise
    except LLMError as error:
        return JudgeRecord(**fields, judgement=None, score=None, analysis_words=None, error=str(error)[:300])
    return JudgeRecord(
        **fields,
        judgement=verdict.judgement,
        score=score_of(unit.criterion, verdict.judgement),
        analysis_words=len(verdict.analysis.split()),
        analysis=verdict.analysis[:4000],
    )
