"""Is the draft what the requirement asked for? Checks that turn down a well-keyed item that is still not a
good item: a question that asks for several things (no single option can answer it), options that do not
answer what is asked, a draft that breaks an explicit constraint of the requirement.

Each check sits where it is cheapest: the wording check costs nothing and runs first; the focused question
to the judge costs one short call and runs once a draft's key is settled, before the solvers' many samples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import LETTERS
from benchmaker.errors import LLMFatalError, ParseError
from benchmaker.items import MCQ, normalize_text
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.check_draft"

# "... how many moles are needed and which reagent is limiting": a second request joined to the first.
_SECOND_REQUEST = re.compile(
    r"(?:\band\s+(?:also\s+)?|[;,]\s*(?:and\s+)?(?:then\s+)?)"
    r"(?:which|what|whether|identify|determine|find|calculate|state|name|explain|how\s+(?:many|much|long|far|fast))\b",
    re.IGNORECASE,
)
_QUESTION_MARK = re.compile(r"\?(?=\s|$)")


def several_requests(question: str) -> str | None:
    """Why the wording asks for more than one thing, or None. Deliberately narrow: two question marks, or a
    request joined to another by "and which / and what / and how many ..." in the last sentence."""
    if len(_QUESTION_MARK.findall(question)) >= 2:
        return "the question asks two questions (two question marks)"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s]
    last = sentences[-1] if sentences else question
    found = _SECOND_REQUEST.search(last)
    if found:
        context = last[max(0, found.start() - 40) : found.end() + 30]
        return f"the question joins a second request to the first: ...{context}..."
    return None


class DraftVerdict(BaseModel):
    """The judge's focused reading of one draft: what it asks, then three yes/no findings."""

    model_config = ConfigDict(extra="forbid")

    asks_for: str = Field(min_length=1)
    several_things: bool
    choices_answer_it: bool
    broken_constraints: list[str] = Field(max_length=12)


@dataclass(frozen=True)
class DraftCheck:
    reason: str = ""
    """A rejection reason (asks_several_things, choices_do_not_answer, breaks_constraint); empty when it passed."""
    detail: str = ""
    verdict: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.reason


def _named(claimed: Sequence[str], constraints: Sequence[str]) -> list[str]:
    """The constraints the judge says are broken, among those that exist: a small judge invents rules, and
    only the requirement's own constraints may turn a draft down."""
    known = {normalize_text(c): c for c in constraints}
    named: list[str] = []
    for text in claimed:
        norm = normalize_text(text).strip(" .")
        for key, constraint in known.items():
            if norm and (norm in key or key.strip(" .") in norm) and constraint not in named:
                named.append(constraint)
    return named


def check_draft(
    judge: RoleModel,
    prompts: PromptLibrary,
    mcq: MCQ,
    *,
    requirement: str,
    constraints: Sequence[str],
    single_question: bool,
    check_constraints: bool,
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
) -> DraftCheck:
    """One call to the judge at temperature 0. Raises LLMError when the call fails; an unreadable reply is a
    check that could not be made, and the draft passes it (noted), never a guess."""
    try:
        verdict = ask(
            judge,
            prompts,
            PROMPT_ID,
            {
                "requirement": requirement,
                "constraints": list(constraints) if check_constraints else [],
                "question": mcq.question,
                "choices": list(mcq.choices),
                "letters": list(LETTERS[: len(mcq.choices)]),
            },
            DraftVerdict,
            temperature=0.0,
            seed=seed,
            sample_key=sample_key,
            max_repairs=max_repairs,
            attempt=attempt,
        ).value
    except LLMFatalError:
        raise
    except ParseError as error:
        return DraftCheck(detail=f"check not made: {error}"[:300])
    record = verdict.model_dump()
    if single_question and verdict.several_things:
        return DraftCheck("asks_several_things", f"the judge reads it as asking for: {verdict.asks_for}"[:300], record)
    if check_constraints and not verdict.choices_answer_it:
        return DraftCheck("choices_do_not_answer", f"the question asks for: {verdict.asks_for}"[:300], record)
    broken = _named(verdict.broken_constraints, constraints) if check_constraints else []
    if broken:
        return DraftCheck("breaks_constraint", "breaks: " + "; ".join(broken)[:280], record)
    return DraftCheck(verdict=record)
