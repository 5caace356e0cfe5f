"""Shared plumbing of the method's steps: one structured call, or n sampled replies."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import StructuredResult
from benchmaker.llm.types import Message
from benchmaker.prompts import PromptLibrary

T = TypeVar("T", bound=BaseModel)


def ask(
    model: RoleModel,
    prompts: PromptLibrary,
    prompt_id: str,
    variables: dict[str, Any],
    reply_model: type[T],
    *,
    temperature: float,
    seed: int,
    sample_key: str,
    max_repairs: int,
    attempt: int | None = None,
    min_tokens: int | None = None,
) -> StructuredResult[T]:
    """Render, call and validate (with the bounded repair loop). Raises ParseError or LLMError."""
    request = model.request(
        prompts.get(prompt_id).render(**variables),
        prompt_id=prompt_id,
        temperature=temperature,
        seed=seed,
        schema=reply_model.model_json_schema(),
        sample_key=sample_key,
        attempt=attempt,
        min_tokens=min_tokens,
    )
    return model.complete_structured(request, reply_model, max_repairs)


def sample(
    model: RoleModel,
    messages: tuple[Message, ...],
    prompt_id: str,
    reply_model: type[BaseModel],
    *,
    n: int,
    temperature: float,
    seed: int,
    sample_key: str,
    attempt: int | None,
) -> tuple[str, ...]:
    """n replies to one prompt, unparsed: each step parses its own and keeps the failures as data.
    Raises LLMError when the call fails."""
    request = model.request(
        messages,
        prompt_id=prompt_id,
        temperature=temperature,
        n=n,
        seed=seed,
        schema=reply_model.model_json_schema(),
        sample_key=sample_key,
        attempt=attempt,
    )
    return model.complete(request).texts


def render_schema(reply_model: type[BaseModel]) -> str:
    return json.dumps(reply_model.model_json_schema())
