"""Structured output: replies are validated against pydantic models, with a bounded repair loop."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from benchmaker.config import format_validation_error
from benchmaker.errors import ParseError
from benchmaker.llm.types import Completion, LLMClient, LLMRequest, Message

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class ReplyInvalid(ValueError):
    """One reply failed to parse or validate; the message is fed back to the model."""


def extract_json_object(text: str) -> object:
    """The JSON object in a reply: bare, fenced, or embedded in prose.

    ``strict=False`` because llama.cpp's JSON grammar lets raw newlines into strings.
    """
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    last_error = "no JSON object found"
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return json.loads(candidate, strict=False)
        except json.JSONDecodeError as error:
            last_error = f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        except RecursionError:
            last_error = "invalid JSON: nested too deeply"
        except ValueError as error:  # an integer of more than 4,300 digits
            last_error = f"invalid JSON: {str(error)[:80]}"
    raise ReplyInvalid(last_error)


def parse_reply(text: str, model: type[T]) -> T:
    data = extract_json_object(text)
    if not isinstance(data, dict):
        raise ReplyInvalid("expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ReplyInvalid(format_validation_error(error)) from None


@dataclass(frozen=True)
class StructuredResult(Generic[T]):
    value: T
    completions: tuple[Completion, ...]


def complete_structured(
    client: LLMClient, request: LLMRequest, model: type[T], max_repairs: int
) -> StructuredResult[T]:
    """Call, validate, and on failure re-ask with the error up to ``max_repairs`` times.

    Raises:
        ParseError: when the last reply still does not validate.
    """
    completions: list[Completion] = []
    messages = list(request.messages)
    for turn in range(max_repairs + 1):
        current = request.model_copy(
            update={
                "messages": tuple(messages),
                "sample_key": request.sample_key if turn == 0 else f"{request.sample_key}|repair={turn}",
            }
        )
        completion = client.complete(current)
        completions.append(completion)
        try:
            return StructuredResult(parse_reply(completion.text, model), tuple(completions))
        except ReplyInvalid as error:
            problem = str(error)
        ask_again = "Reply again with only the corrected JSON object."
        if completion.finish_reasons[:1] == ("length",):
            # A re-ask that repeats a cut reply is cut again: ask for a shorter one.
            problem = f"it was cut off at the length limit ({request.max_tokens} tokens), so {problem}"
            ask_again = "Reply again with a shorter JSON object: fewer words per field."
        messages += [
            Message(role="assistant", content=completion.text),
            Message(role="user", content=f"That reply is invalid: {problem}. {ask_again}"),
        ]
    raise ParseError(
        f"reply failed validation after {max_repairs} repair(s): {problem}",
        last_text=completions[-1].text,
        attempts=len(completions),
    )
