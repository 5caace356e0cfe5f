"""Step 6, self test-taking: the solver answers m times; its error rate is the difficulty label.

Answers are parsed strictly: a reply that is not the JSON object with one valid letter is recorded
as unparsable (None), never guessed from "the first letter in the text" as the research code does.
Unparsable replies are left out of the error rate: they measure the format, not the question.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, create_model

from benchmaker.config import LETTERS
from benchmaker.items import MCQ
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import ReplyInvalid, parse_reply
from benchmaker.methods.benchmaker.calls import sample
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.solve"


class _SolveBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


@cache
def solve_reply_model(n_options: int) -> type[BaseModel]:
    return create_model(
        f"Solve{n_options}",
        __base__=_SolveBase,
        reasoning=(str, Field(min_length=1)),
        answer=(str, Field(pattern=f"^[{LETTERS[:n_options]}]$")),
    )


def parse_solution(text: str, n_options: int) -> tuple[int | None, str]:
    """(chosen option, reasoning); (None, "") when the reply does not parse."""
    try:
        reply = parse_reply(text, solve_reply_model(n_options))
    except ReplyInvalid:
        return None, ""
    return LETTERS.index(reply.answer), reply.reasoning


@dataclass(frozen=True)
class SelfTest:
    votes: list[int | None]
    reasonings: list[str]

    @property
    def parsed(self) -> int:
        return sum(v is not None for v in self.votes)

    def accuracy(self, key: int) -> float | None:
        if not self.parsed:
            return None
        return sum(v == key for v in self.votes) / self.parsed

    def difficulty(self, key: int) -> float | None:
        """1 + 10 x error rate, in [1, 11]."""
        accuracy = self.accuracy(key)
        return None if accuracy is None else round(1 + 10 * (1 - accuracy), 4)

    def counts(self) -> Counter[int]:
        return Counter(v for v in self.votes if v is not None)

    def conflicts_with(self, key: int, trigger: str = "majority") -> bool:
        """``majority`` (the paper): the key is not the solvers' unique most frequent answer.
        ``any``: at least one solver chose another option."""
        counts = self.counts()
        if not counts:
            return False
        if trigger == "any":
            return any(option != key for option in counts)
        top = max(counts.values())
        leaders = [option for option, count in counts.items() if count == top]
        return leaders != [key]

    def majority(self) -> int | None:
        """The solvers' unique most frequent answer, or None (no parsed answer, or a tie at the top)."""
        counts = self.counts()
        if not counts:
            return None
        top = max(counts.values())
        leaders = [option for option, count in counts.items() if count == top]
        return leaders[0] if len(leaders) == 1 else None

    def rival(self, key: int) -> int | None:
        """The most frequent answer other than the key (lowest option on ties)."""
        others = [(-count, option) for option, count in self.counts().items() if option != key]
        return min(others)[1] if others else None

    def reasoning_for(self, option: int) -> str:
        return next(r for v, r in zip(self.votes, self.reasonings, strict=True) if v == option)


def take_test(
    model: RoleModel,
    prompts: PromptLibrary,
    mcq: MCQ,
    *,
    samples: int,
    temperature: float,
    seed: int,
    sample_key: str,
    attempt: int,
) -> SelfTest:
    """Raises LLMError when the call fails."""
    n_options = len(mcq.choices)
    texts = sample(
        model,
        prompts.get(PROMPT_ID).render(
            question=mcq.question, choices=list(mcq.choices), letters=list(LETTERS[:n_options])
        ),
        PROMPT_ID,
        solve_reply_model(n_options),
        n=samples,
        temperature=temperature,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
    )
    parsed = [parse_solution(text, n_options) for text in texts]
    return SelfTest(votes=[vote for vote, _ in parsed], reasonings=[reasoning for _, reasoning in parsed])
