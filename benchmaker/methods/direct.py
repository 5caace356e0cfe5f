"""The direct-prompting baseline: one MCQ per call from the requirement, validated, nothing more."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from benchmaker.config import LETTERS, format_validation_error
from benchmaker.errors import LLMError, LLMFatalError, ParseError
from benchmaker.items import MCQ, BenchmarkItem, Draft, Rejection, letter_labelled
from benchmaker.methods.base import GenerationContext, attempt_seed

PROMPT_ID = "direct.generate_mcq"


class _MCQReplyBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


@cache
def mcq_reply_model(n_options: int) -> type[BaseModel]:
    """The reply schema for ``n_options`` choices; the worked solution comes before the letter."""
    letters = LETTERS[:n_options]
    return create_model(
        f"MCQReply{n_options}",
        __base__=_MCQReplyBase,
        question=(str, Field(min_length=1)),
        choices=(list[str], Field(min_length=n_options, max_length=n_options)),
        explanation=(str, Field(min_length=1)),
        answer=(str, Field(pattern=f"^[{letters}]$")),
    )


class DirectMethod:
    name = "direct"
    prompt_ids = (PROMPT_ID,)
    wave_factor = 4  # attempts are independent: keep every worker busy

    @staticmethod
    def required_roles(config: object) -> tuple[str, ...]:
        return ("generator",)

    def __init__(self, context: GenerationContext) -> None:
        self.context = context
        self.template = context.prompts.get(PROMPT_ID)
        requirement = context.config.requirement
        self.reply_model = mcq_reply_model(requirement.n_options)
        self.schema = self.reply_model.model_json_schema()
        self.messages = self.template.render(
            requirement=requirement.description,
            language=requirement.language,
            n_options=requirement.n_options,
            letters=list(LETTERS[: requirement.n_options]),
            schema=json.dumps(self.schema),
        )

    def prompt_refs(self) -> dict[str, str]:
        return {pid: self.context.prompts.get(pid).ref for pid in self.prompt_ids}

    def prepare(self, accepted: Sequence[BenchmarkItem]) -> None:
        """Nothing run-level: every attempt is one independent call."""

    def admit(self, draft: Draft) -> Rejection | None:
        return None

    def generate(self, attempt: int, accepted: Sequence[BenchmarkItem] = (), slot: int = 0) -> Draft | Rejection:
        config = self.context.config
        generator = self.context.models["generator"]
        request = generator.request(
            self.messages,
            prompt_id=PROMPT_ID,
            temperature=config.generation.temperature,
            seed=attempt_seed(config.seed, attempt, PROMPT_ID),
            schema=self.schema,
            sample_key=f"seed={config.seed}|attempt={attempt}",
            attempt=attempt,
        )
        try:
            result = generator.complete_structured(request, self.reply_model, config.generation.max_repairs)
        except ParseError as error:
            return Rejection(attempt=attempt, stage="generate", reason="unparsable_reply", detail=str(error)[:500])
        except LLMFatalError:
            raise
        except LLMError as error:
            return Rejection(attempt=attempt, stage="generate", reason="llm_error", detail=str(error)[:500])
        reply = result.value
        if letter_labelled(reply.choices):
            return Rejection(
                attempt=attempt, stage="validate", reason="lettered_choices", detail=" | ".join(reply.choices)[:300]
            )
        try:
            mcq = MCQ(
                question=reply.question,
                choices=tuple(reply.choices),
                answer_index=LETTERS.index(reply.answer),
            )
        except ValidationError as error:
            return Rejection(
                attempt=attempt, stage="validate", reason="invalid_mcq", detail=format_validation_error(error)
            )
        return Draft(
            attempt=attempt,
            mcq=mcq,
            metadata={
                "explanation": reply.explanation,
                "generator": generator.spec.model,
                "prompt": self.template.ref,
                "llm_calls": len(result.completions),
                "repairs": len(result.completions) - 1,
            },
        )
