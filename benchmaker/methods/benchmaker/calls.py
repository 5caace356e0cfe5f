"""Shared plumbing of the method's steps: one structured call, or n sampled texts."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import StructuredResult
from benchmaker.prompts import PromptLibrary

T = TypeVar("T", bound=BaseModel)

# Attribute lists are the longest replies of the method; a cap sized for one question cuts them.
ATTRIBUTE_REPLY_TOKENS = 1500


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


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
    schema = schema_of(reply_model)
    template = prompts.get(prompt_id)
    request = model.request(
        template.render(**variables),
        prompt_id=prompt_id,
        temperature=temperature,
        seed=seed,
        schema=schema,
        sample_key=sample_key,
        attempt=attempt,
        min_tokens=min_tokens,
    )
    return model.complete_structured(request, reply_model, max_repairs)


def render_schema(reply_model: type[BaseModel]) -> str:
    return json.dumps(schema_of(reply_model))
