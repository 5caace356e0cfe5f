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
def candidate_reply_model(n_options: int, stepwise: bool, value: bool = False) -> type[BaseModel]:
    """Field order is the order of work: analysis (stepwise only), question, solution, the final value
    (computable requirements: the generator's own result, written before the choices are built around it),
    choices, key."""
    fields: dict[str, Any] = {}
    if stepwise:
        fields["analysis"] = (str, Field(min_length=1))
    fields["question"] = (str, Field(min_length=1))
    fields["reasoning"] = (str, Field(min_length=1))
    if value:
        fields["value"] = (str, Field(min_length=1))
    fields["choices"] = (list[str], Field(min_length=n_options, max_length=n_options))
    fields["answer"] = (str, Field(pattern=f"^[{LETTERS[:n_options]}]$"))
    name = f"Candidate{n_options}{'Stepwise' if stepwise else ''}{'Value' if value else ''}"
    return create_model(name, __base__=_CandidateBase, **fields)


@dataclass(frozen=True)
class Candidate:
    index: int
    """Which of the n completions it came from."""
    mcq: MCQ
    reasoning: str
    analysis: str = ""
    value: str = ""
    """The generator's own final value (computable requirements), written apart from the option letter."""


def render_item(question: str, choices: list[str] | tuple[str, ...], answer_index: int | None = None) -> str:
    """Question, lettered choices and (optionally) the key: how items are shown to models and measured."""
    lines = [question, *(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(choices))]
    if answer_index is not None:
        lines.append(f"Answer: {LETTERS[answer_index]}")
    return "\n".join(lines)


def parse_candidate(text: str, index: int, n_options: int, stepwise: bool, value: bool = False) -> Candidate:
    """Raises ReplyInvalid with the reason a completion is unusable."""
    reply = parse_reply(text, candidate_reply_model(n_options, stepwise, value))
    if letter_labelled(reply.choices):
        raise ReplyInvalid("the choices carry their own letter labels")
    try:
        mcq = MCQ(question=reply.question, choices=tuple(reply.choices), answer_index=LETTERS.index(reply.answer))
    except ValidationError as error:
        raise ReplyInvalid(f"invalid question: {format_validation_error(error)}") from None
    return Candidate(
        index=index,
        mcq=mcq,
        reasoning=reply.reasoning,
        analysis=getattr(reply, "analysis", ""),
        value=getattr(reply, "value", ""),
    )


def generation_messages(
    prompts: PromptLibrary, variables: dict[str, Any], n_options: int, stepwise: bool, value: bool = False
) -> Any:
    return prompts.get(PROMPT_ID).render(
        **variables,
        n_options=n_options,
        letters=list(LETTERS[:n_options]),
        stepwise=stepwise,
        value=value,
        schema=render_schema(candidate_reply_model(n_options, stepwise, value)),
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
) -> tuple[list[Candidate], list[str]]:
    """The usable candidates and, for each unusable completion, why. Raises LLMError."""
    texts = sample(
        model,
        generation_messages(prompts, variables, n_options, stepwise, value),
        PROMPT_ID,
        candidate_reply_model(n_options, stepwise, value),
        n=n,
        temperature=temperature,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
    )
    candidates, failures = [], []
    for index, text in enumerate(texts):
        try:
            candidates.append(parse_candidate(text, index, n_options, stepwise, value))
        except ReplyInvalid as error:
            failures.append(f"candidate {index}: {error}"[:300])
    return candidates, failures
