"""Step 1, demand analysis: the requirement restated as task, question content and answer choices."""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import Requirement
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.demand_analysis"


class DemandReply(BaseModel):
    """The model's analysis: the fields every later prompt reads."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    task: str = Field(min_length=1)
    question_content: str
    answer_choices: str
    constraints: list[str] = Field(max_length=12)
    """Explicit constraints the requirement states (format, kinds of numbers, what a question must or must not
    be): they bind every draft, and drafts are checked against them. Required in the reply, possibly empty."""


class DemandAnalysis(DemandReply):
    constraints: list[str] = Field(default_factory=list, max_length=12)
    """As in the reply; an attributes file written before constraints existed has none."""

    computable: bool | None = None
    """Whether a short program can compute each answer from the question's givens, which turns on
    program-verified keys (None: not decided yet; see ``computability.py``). Editable in attributes.yaml."""


def unanalysed(requirement: Requirement) -> DemandAnalysis:
    """What later steps see when demand analysis is switched off: the requirement alone."""
    return DemandAnalysis(task=requirement.description, question_content="", answer_choices="", constraints=[])


def analyse_demand(
    model: RoleModel, prompts: PromptLibrary, requirement: Requirement, *, seed: int, max_repairs: int
) -> tuple[DemandAnalysis, list[str]]:
    """The analysis, and notes (constraints dropped as not the requirement's words). Raises ParseError or
    LLMError."""
    result = ask(
        model,
        prompts,
        PROMPT_ID,
        {
            "requirement": requirement.description,
            "language": requirement.language,
            "n_options": requirement.n_options,
        },
        DemandReply,
        temperature=1.0,
        seed=seed,
        sample_key="demand",
        max_repairs=max_repairs,
    )
    reply = result.value
    constraints = grounded_constraints(reply.constraints, requirement.description)
    dropped = [c for c in reply.constraints if _words(c) and _words(c) not in source_words(constraints)]
    notes = [f"demand analysis: dropped constraint(s) not in the requirement's words: {dropped}"] if dropped else []
    return DemandAnalysis(**{**reply.model_dump(), "constraints": constraints}), notes


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def source_words(constraints: list[str]) -> set[str]:
    return {_words(c) for c in constraints}


def grounded_constraints(claimed: list[str], requirement: str) -> list[str]:
    """The constraints that are the requirement's own words (compared without case or punctuation), once
    each. A small model restating the requirement invents rules ("the operation is written in words" for a
    requirement that asks for symbols); a rule that turns drafts down must be one the user wrote."""
    source = _words(requirement)
    kept: dict[str, str] = {}
    for constraint in claimed:
        words = _words(constraint)
        if words and f" {words} " in f" {source} " and words not in kept:
            kept[words] = constraint.strip()
    return list(kept.values())
