"""The examinee panel: each model answers each item k times; answers are parsed strictly."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from benchmaker.config import LETTERS
from benchmaker.errors import BudgetExceeded, LLMError
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.base import attempt_seed
from benchmaker.prompts import PromptLibrary
from benchmaker.scoring.benchmarks import ScoredItem

Mode = Literal["full", "choices_only"]
PROMPTS: dict[str, str] = {"full": "panel.answer", "choices_only": "panel.answer_choices_only"}

_BARE_LETTER = re.compile(r"^\(?([A-Ja-j])[.)]?$")


class PanelRecord(BaseModel):
    """One answer of one model to one item (one line of ``panel.jsonl``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: str
    item_id: str
    model: str
    sample: int
    mode: Mode
    answer_index: int | None
    correct: bool
    error: str | None = None
    """Why no answer was recorded: ``unparsable`` or an LLM error. Counted as wrong."""

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        return (self.benchmark, self.item_id, self.model, self.sample, self.mode)


def parse_letter(text: str, n_options: int) -> int | None:
    """The chosen option, or None. Accepts ``{"answer": "B"}`` or a reply that is just ``B``.

    Never guesses from the first letter found in free text: a wrong guess would be scored as the
    model's answer and bend every accuracy and difficulty figure built on it.
    """
    text = text.strip()
    letter = None
    bare = _BARE_LETTER.match(text)
    if bare:
        letter = bare.group(1)
    else:
        try:
            data = json.loads(text, strict=False)
        except (ValueError, RecursionError):  # not JSON, an over-long integer, nesting too deep
            return None
        if isinstance(data, dict) and isinstance(data.get("answer"), str):
            candidate = data["answer"].strip()
            letter = candidate if len(candidate) == 1 else None
    if letter is None:
        return None
    index = LETTERS.find(letter.upper())
    return index if 0 <= index < n_options else None


def answer_schema(n_options: int) -> dict:
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(LETTERS[:n_options])}},
        "required": ["answer"],
    }


@dataclass(frozen=True)
class PanelUnit:
    benchmark: str
    item: ScoredItem
    model: str
    sample: int
    mode: Mode

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        return (self.benchmark, self.item.id, self.model, self.sample, self.mode)


def answer_unit(unit: PanelUnit, examinee: RoleModel, prompts: PromptLibrary, samples: int, seed: int) -> PanelRecord:
    """Ask once; an unparsable reply or a failed call becomes a wrong answer with its reason."""
    item = unit.item
    letters = list(LETTERS[: len(item.choices)])
    template = prompts.get(PROMPTS[unit.mode])
    variables = {"choices": list(item.choices), "letters": letters}
    if unit.mode == "full":
        variables["question"] = item.question
    request = examinee.request(
        template.render(**variables),
        prompt_id=template.id,
        # one sample: the model's best answer; several: its answer distribution
        temperature=0.0 if samples == 1 else 1.0,
        seed=attempt_seed(seed, unit.sample, f"{unit.benchmark}|{item.id}|{unit.mode}"),
        schema=answer_schema(len(item.choices)),
        sample_key=f"panel|{unit.sample}",
    )
    fields = {
        "benchmark": unit.benchmark,
        "item_id": item.id,
        "model": unit.model,
        "sample": unit.sample,
        "mode": unit.mode,
    }
    try:
        text = examinee.complete(request).text
    except BudgetExceeded:
        raise
    except LLMError as error:
        return PanelRecord(**fields, answer_index=None, correct=False, error=f"llm_error: {error}"[:300])
    chosen = parse_letter(text, len(item.choices))
    return PanelRecord(
        **fields,
        answer_index=chosen,
        correct=chosen == item.answer_index,
        error=None if chosen is not None else "unparsable",
    )
