"""Step 4, generation with stepwise self-correction: n candidate questions from one prompt."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from benchmaker.config import LETTERS, format_validation_error
from benchmaker.items import MCQ, letter_labelled
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import ReplyInvalid, parse_reply
from benchmaker.methods.benchmaker.calls import render_schema, sample
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.generate"


class _CandidateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


@cache
def candidate_reply_model(n_options: int, stepwise: bool, value: bool = False, stem: bool = False) -> type[BaseModel]:
    """Field order is the order of work: analysis (stepwise only), question, solution, the final value
    (computable requirements: the generator's own result, written before the choices are built around it),
    choices, key. A stem (``program.order: value_first``) stops at the value: its choices are built later,
    around the value the programs agree on."""
    fields: dict[str, Any] = {}
    if stepwise:
        fields["analysis"] = (str, Field(min_length=1))
    fields["question"] = (str, Field(min_length=1))
    fields["reasoning"] = (str, Field(min_length=1))
    if value or stem:
        fields["value"] = (str, Field(min_length=1))
    if not stem:
        fields["choices"] = (list[str], Field(min_length=n_options, max_length=n_options))
        fields["answer"] = (str, Field(pattern=f"^[{LETTERS[:n_options]}]$"))
    shape = "Stem" if stem else "Value" if value else ""
    name = f"Candidate{n_options}{'Stepwise' if stepwise else ''}{shape}"
    return create_model(name, __base__=_CandidateBase, **fields)


@dataclass(frozen=True)
class Candidate:
    index: int
    """Which of the n completions it came from."""
    question: str
    mcq: MCQ | None
    """The question with its choices and key; None for a stem, whose choices are built later."""
    reasoning: str
    analysis: str = ""
    value: str = ""
    """The generator's own final value (computable requirements), written apart from the option letter."""

    def rendered(self) -> str:
        """How the candidate is measured against the references (diversity)."""
        if self.mcq is None:
            return f"{self.question}\nAnswer: {self.value}"
        return render_item(self.mcq.question, self.mcq.choices, self.mcq.answer_index)


def render_item(question: str, choices: list[str] | tuple[str, ...], answer_index: int | None = None) -> str:
    """Question, lettered choices and (optionally) the key: how items are shown to models and measured."""
    lines = [question, *(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(choices))]
    if answer_index is not None:
        lines.append(f"Answer: {LETTERS[answer_index]}")
    return "\n".join(lines)


def parse_candidate(
    text: str, index: int, n_options: int, stepwise: bool, value: bool = False, stem: bool = False
) -> Candidate:
    """Raises ReplyInvalid with the reason a completion is unusable."""
    reply = parse_reply(text, candidate_reply_model(n_options, stepwise, value, stem))
    analysis = getattr(reply, "analysis", "")
    if stem:
        if not reply.question.strip() or not reply.value.strip():
            raise ReplyInvalid("blank question or value")
        return Candidate(index, reply.question, None, reply.reasoning, analysis, reply.value.strip())
    if letter_labelled(reply.choices):
        raise ReplyInvalid("the choices carry their own letter labels")
    try:
        mcq = MCQ(question=reply.question, choices=tuple(reply.choices), answer_index=LETTERS.index(reply.answer))
    except ValidationError as error:
        raise ReplyInvalid(f"invalid question: {format_validation_error(error)}") from None
    return Candidate(index, mcq.question, mcq, reply.reasoning, analysis, getattr(reply, "value", ""))


def generation_messages(
    prompts: PromptLibrary,
    variables: dict[str, Any],
    n_options: int,
    stepwise: bool,
    value: bool = False,
    stem: bool = False,
) -> Any:
    return prompts.get(PROMPT_ID).render(
        **variables,
        n_options=n_options,
        letters=list(LETTERS[:n_options]),
        stepwise=stepwise,
        value=value or stem,
        stem=stem,
        schema=render_schema(candidate_reply_model(n_options, stepwise, value, stem)),
    )


def generate_candidates(
    model: RoleModel,
    prompts: PromptLibrary,
    variables: dict[str, Any],
    *,
    n_options: int,
    stepwise: bool,
    n: int,
    temperature: float,
    seed: int,
    sample_key: str,
    attempt: int,
    value: bool = False,
    stem: bool = False,
) -> tuple[list[Candidate], list[str]]:
    """The usable candidates and, for each unusable completion, why. Raises LLMError."""
    texts = sample(
        model,
        generation_messages(prompts, variables, n_options, stepwise, value, stem),
        PROMPT_ID,
        candidate_reply_model(n_options, stepwise, value, stem),
        n=n,
        temperature=temperature,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
    )
    candidates, failures = [], []
    for index, text in enumerate(texts):
        try:
            candidates.append(parse_candidate(text, index, n_options, stepwise, value, stem))
        except ReplyInvalid as error:
            failures.append(f"candidate {index}: {error}"[:300])
    return candidates, failures
