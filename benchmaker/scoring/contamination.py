"""The memorisation check (partial-prompt completion, seed 001): does a model recall a question from its beginning?

For each item, model and prefix fraction (default 40%, 60%, 80% of the question's words):

* **completion**: the model continues the first part of the question at temperature 0, by raw completion
  (no chat template) where the provider offers it, else by a continue-verbatim chat prompt; its first
  words, as many as the true remainder has, are compared with that remainder by ROUGE-L F1 and exact
  match on normalised words;
* **prefix answer**: the model sees the same beginning and the item's options and names one; with the
  question cut short, naming the key well above the choices-only baseline points at a recalled item.

An item is flagged as memorised by a model when any fraction gives an exact match or a ROUGE-L at or
above the threshold. Fractions whose remainder has fewer than ``min_remainder_words`` words are not
asked: a short tail ("of the following?") is guessed from the language alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from benchmaker.config import LETTERS
from benchmaker.errors import BudgetExceeded, LLMError
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.base import attempt_seed
from benchmaker.prompts import PromptLibrary
from benchmaker.scoring import text_overlap
from benchmaker.scoring.benchmarks import ScoredItem
from benchmaker.scoring.panel import answer_schema, parse_letter

Check = Literal["complete", "answer"]
CompletionMode = Literal["raw_completion", "chat_continue"]
RAW_PROMPT_ID = "contamination.raw"
CONTINUE_PROMPT_ID = "contamination.continue"
ANSWER_PROMPT_ID = "contamination.prefix_answer"


class ContaminationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    fractions: tuple[float, ...] = Field(default=(0.4, 0.6, 0.8), min_length=1, max_length=9)
    mode: Literal["auto", "raw", "chat"] = Field(
        default="auto", description="auto: raw completion where the provider offers it, else the chat prompt."
    )
    rouge_threshold: float = Field(default=0.75, gt=0, le=1, description="Flag at ROUGE-L F1 >= this.")
    min_remainder_words: int = Field(default=4, ge=1, le=50)
    max_new_tokens: int = Field(default=160, ge=8, le=2048)
    answer_check: bool = True

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 1 for f in value) or len(set(value)) != len(value):
            raise ValueError("fractions must be distinct and lie strictly between 0 and 1")
        return tuple(sorted(round(f, 4) for f in value))


class ContaminationRecord(BaseModel):
    """One line of ``contamination.jsonl``: one check of one item by one model at one fraction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: str
    item_id: str
    model: str
    fraction: float
    check: Check
    prefix_words: int
    remainder_words: int
    mode: CompletionMode | None = None
    rouge_l: float | None = None
    exact: bool | None = None
    continuation: str | None = None
    answer_index: int | None = None
    correct: bool | None = None
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, str, float, str]:
        return (self.benchmark, self.item_id, self.model, self.fraction, self.check)


@dataclass(frozen=True)
class ContaminationUnit:
    benchmark: str
    item: ScoredItem
    model: str
    fraction: float
    check: Check
    mode: CompletionMode
    context: str = ""
    """Text placed before the prefix (the positive control shows the item in full here); empty in scoring."""

    @property
    def key(self) -> tuple[str, str, str, float, str]:
        return (self.benchmark, self.item.id, self.model, self.fraction, self.check)


def testable_split(question: str, fraction: float, settings: ContaminationSettings) -> text_overlap.Split | None:
    """The prefix and remainder to test, or None when the remainder is too short to say anything."""
    split = text_overlap.split_at_fraction(question, fraction)
    if split is None or split.remainder_words < settings.min_remainder_words:
        return None
    return split


def units_for(
    benchmark: str,
    items: tuple[ScoredItem, ...] | list[ScoredItem],
    models: dict[str, CompletionMode],
    settings: ContaminationSettings,
    context: str = "",
) -> list[ContaminationUnit]:
    """Every check the settings ask for (items whose remainder is too short at a fraction are left out there)."""
    checks: tuple[Check, ...] = ("complete", "answer") if settings.answer_check and not context else ("complete",)
    units = []
    for item in items:
        for fraction in settings.fractions:
            if testable_split(item.question, fraction, settings) is None:
                continue
            for model, mode in models.items():
                units += [ContaminationUnit(benchmark, item, model, fraction, c, mode, context) for c in checks]
    return units


def _max_tokens(remainder_words: int, cap: int) -> int:
    # Subword tokenisers spend ~1.3-2 tokens per English word; a margin lets a restated prefix through.
    return min(cap, 2 * remainder_words + 16)


def run_unit(
    unit: ContaminationUnit, model: RoleModel, prompts: PromptLibrary, settings: ContaminationSettings, seed: int
) -> ContaminationRecord:
    """One check; a failed call becomes a record with its error (counted as not computed, never as a result)."""
    item = unit.item
    split = testable_split(item.question, unit.fraction, settings)
    if split is None:  # units_for never makes one; a hand-made unit gets a clear error
        raise ValueError(f"{item.id}: no testable prefix at fraction {unit.fraction}")
    fields = {
        "benchmark": unit.benchmark,
        "item_id": item.id,
        "model": unit.model,
        "fraction": unit.fraction,
        "check": unit.check,
        "prefix_words": split.prefix_words,
        "remainder_words": split.remainder_words,
    }
    sample_seed = attempt_seed(seed, 0, f"{unit.benchmark}|{item.id}|{unit.fraction}|{unit.check}")
    prompt_text = f"{unit.context}\n\n{split.prefix}" if unit.context else split.prefix
    try:
        if unit.check == "answer":
            template = prompts.get(ANSWER_PROMPT_ID)
            letters = list(LETTERS[: len(item.choices)])
            request = model.request(
                template.render(prefix=split.prefix, choices=list(item.choices), letters=letters),
                prompt_id=template.id,
                temperature=0.0,
                seed=sample_seed,
                schema=answer_schema(len(item.choices)),
                sample_key="contamination|answer",
            )
            chosen = parse_letter(model.complete(request).text, len(item.choices))
            return ContaminationRecord(
                **fields,
                answer_index=chosen,
                correct=chosen == item.answer_index,
                error=None if chosen is not None else "unparsable",
            )
        limit = _max_tokens(split.remainder_words, settings.max_new_tokens)
        if unit.mode == "raw_completion":
            request = model.text_request(
                prompt_text, prompt_id=RAW_PROMPT_ID, max_tokens=limit, seed=sample_seed, sample_key="contamination"
            )
        else:
            template = prompts.get(CONTINUE_PROMPT_ID)
            request = model.request(
                template.render(prefix=prompt_text),
                prompt_id=template.id,
                temperature=0.0,
                seed=sample_seed,
                sample_key="contamination|chat",
                min_tokens=limit,
            )
        reply = model.complete(request).text
    except BudgetExceeded:
        raise
    except LLMError as error:
        return ContaminationRecord(**fields, mode=_mode(unit), error=f"llm_error: {error}"[:300])
    truth = text_overlap.words(split.remainder)
    said = text_overlap.continuation_words(reply, split.prefix, len(truth))
    return ContaminationRecord(
        **fields,
        mode=unit.mode,
        rouge_l=text_overlap.rouge_l(truth, said),
        exact=text_overlap.exact_match(truth, said),
        continuation=reply[:500],
    )


def _mode(unit: ContaminationUnit) -> CompletionMode | None:
    return unit.mode if unit.check == "complete" else None
