"""Whether a requirement's answers can be computed by program: a majority of short votes decides.

Part of demand analysis for program-verified keys. Measured on the embedded 1.5B model, one answer to
this question flips between runs (arithmetic judged not computable, pharmacology facts computable),
while a focused prompt sampled five times gives a stable majority; so the decision is a vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import ReplyInvalid, parse_reply
from benchmaker.methods.benchmaker.calls import sample
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.computability"


class ComputabilityVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calculation: str
    computable: bool


@dataclass(frozen=True)
class Computability:
    computable: bool | None
    """The majority (a tie is "no": verifying keys of a non-computable domain would reject every
    item); None when no vote could be read."""
    votes: tuple[bool, ...]
    unreadable: int

    def note(self) -> str:
        yes = sum(self.votes)
        return f"computability votes: {yes} yes, {len(self.votes) - yes} no, {self.unreadable} unreadable"


def vote_computability(
    model: RoleModel,
    prompts: PromptLibrary,
    *,
    requirement: str,
    task: str,
    samples: int,
    seed: int,
) -> Computability:
    """Raises LLMError when the call fails."""
    texts = sample(
        model,
        prompts.get(PROMPT_ID).render(requirement=requirement, task=task),
        PROMPT_ID,
        ComputabilityVote,
        n=samples,
        temperature=1.0,
        seed=seed,
        sample_key="computability",
        attempt=None,
    )
    votes: list[ComputabilityVote] = []
    for text in texts:
        try:
            votes.append(parse_reply(text, ComputabilityVote))
        except ReplyInvalid:
            continue
    yes = sum(v.computable for v in votes)
    return Computability(
        computable=(yes > len(votes) - yes) if votes else None,
        votes=tuple(v.computable for v in votes),
        unreadable=len(texts) - len(votes),
    )
