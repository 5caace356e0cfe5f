"""Step 7, conflict-guided contrastive discrimination.

When the solvers' majority disagrees with the generator's key, a judge compares the generator's
solution with a solution that reached the solvers' answer, twice, with the two in swapped positions
(the research code means to swap them but sends the same order twice). The item is kept only when
both verdicts score the question 2 (flawless, one correct option) and name the same option; that
option becomes the key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from benchmaker.config import LETTERS
from benchmaker.errors import ParseError
from benchmaker.items import MCQ
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.fanout import together
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.discriminate"
NO_OPTION = "none"


class _VerdictBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


@cache
def verdict_model(n_options: int) -> type[BaseModel]:
    labels = Literal[tuple([*LETTERS[:n_options], NO_OPTION])]  # type: ignore[valid-type]
    return create_model(
        f"Verdict{n_options}",
        __base__=_VerdictBase,
        analysis=(str, Field(min_length=1)),
        score=(Literal[0, 1, 2], ...),
        label=(labels, ...),
    )


# Where a solution names an option by its letter: "option B", "the answer is (C)", "(D)", "B) 12".
_LETTER_REF = re.compile(
    r"(?P<lead>\b(?i:options?|choices?|answers?(?:\s+is)?|answer\s*:|letter|select|choose|pick)\s*)"
    r"\(?(?P<a>[A-J])\)?(?![\w'])"
    r"|\((?P<b>[A-J])\)"
    r"|^(?P<c>[A-J])[.)](?=\s)",
    re.MULTILINE,
)


def letter_free(reasoning: str, choices: Sequence[str]) -> str:
    """A solution that names options by their text instead of their letters, so that it still argues for
    the same options after they are shuffled, repaired or relabelled ("option B" -> 'option "18 mol"')."""

    def by_text(match: re.Match[str]) -> str:
        letter = match["a"] or match["b"] or match["c"]
        index = LETTERS.index(letter)
        if index >= len(choices):
            return match[0]
        quoted = f'"{choices[index]}"'
        if match["a"]:
            return f"{match['lead']}{quoted}"
        return f"({quoted})" if match["b"] else quoted

    return _LETTER_REF.sub(by_text, reasoning.strip())


def solution_text(reasoning: str, option: int, mcq: MCQ) -> str:
    """A solution for the judge that argues for ``option`` in the order the judge sees the options."""
    return f"{letter_free(reasoning, mcq.choices)}\nThe answer is {LETTERS[option]}. {mcq.choices[option]}"


@dataclass
class Discrimination:
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    """In call order: ``order`` says which solution came first; score and analysis."""
    named: list[int | None] = field(default_factory=list)
    """The option each verdict named, in call order (None: no single correct option)."""
    label: int | None = None
    reason: str = ""
    """Why the item is rejected (a short code); empty when accepted."""
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return not self.reason


def discriminate(
    judge: RoleModel,
    prompts: PromptLibrary,
    mcq: MCQ,
    *,
    key_solution: str,
    rival_solution: str,
    temperature: float,
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
) -> Discrimination:
    """Raises LLMError when a call fails (ParseError is a verdict: the item is rejected)."""
    n_options = len(mcq.choices)
    orders = [("rival_first", rival_solution, key_solution), ("key_first", key_solution, rival_solution)]

    def read(order: str, first: str, second: str) -> BaseModel | ParseError:
        try:
            return ask(
                judge,
                prompts,
                PROMPT_ID,
                {
                    "question": mcq.question,
                    "choices": list(mcq.choices),
                    "letters": list(LETTERS[:n_options]),
                    "first_solution": first,
                    "second_solution": second,
                },
                verdict_model(n_options),
                temperature=temperature,
                seed=seed,
                sample_key=f"{sample_key}|{order}",
                max_repairs=max_repairs,
                attempt=attempt,
            ).value
        except ParseError as error:  # a verdict, not a failure: kept in order below
            return error

    # The two readings are independent: an API takes them together (one round trip); the serial local
    # server reads them in order, and an unparsable first one spares the second, as before.
    serial = not judge.parallel
    replies: list[Any] = []
    if serial:
        for order in orders:
            replies.append(read(*order))
            if isinstance(replies[-1], ParseError):
                break
    else:
        replies = together([partial(read, *order) for order in orders], parallel=True)
    result = Discrimination()
    labels: list[str] = []
    for (order, _, _), reply in zip(orders, replies, strict=False):
        if isinstance(reply, ParseError):
            result.reason, result.detail = "judge_unparsable", str(reply)[:300]
            return result
        result.verdicts.append({"order": order, "score": reply.score, "analysis": reply.analysis})
        result.named.append(None if reply.label == NO_OPTION else LETTERS.index(reply.label))
        labels.append(reply.label)
    scores = [v["score"] for v in result.verdicts]
    if any(score < 2 for score in scores):
        result.reason, result.detail = "judge_flawed_question", f"scores {scores} (both must be 2)"
    elif NO_OPTION in labels:
        result.reason, result.detail = "judge_no_single_option", f"labels {labels}"
    elif labels[0] != labels[1]:
        result.reason = "judge_inconsistent_on_swap"
        result.detail = f"named {labels[0]} with the rival solution first, {labels[1]} with the key's first"
    else:
        result.label = result.named[0]
    return result
