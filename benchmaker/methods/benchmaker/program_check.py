"""Program-verified answer keys: the generator writes a program that computes the answer from the
question's givens (it never sees the choices), the sandbox runs it, and its result is looked up among
the choices. A failing program is sent back once with its error; what happened is kept as evidence.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import ProgramVerification
from benchmaker.errors import LLMFatalError, ParseError
from benchmaker.items import MCQ
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.methods.benchmaker.discrimination import solution_text
from benchmaker.prompts import PromptLibrary
from benchmaker.verification.matching import OptionMatch, match_option
from benchmaker.verification.sandbox import ALLOWED_MODULES, ProgramRun, SandboxLimits, run_program

PROMPT_ID = "benchmaker.write_program"
FIX_TEMPERATURE = 0.8
"""Lowest temperature of a fix: at 0 the 1.5B model returned the same failing program every time."""
Outcome = Literal["agree", "disagree", "no_match", "ambiguous", "failed"]
# A coder model often wraps the source in a markdown fence even inside a JSON string.
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


class ProgramReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: str = Field(min_length=1)


def _unfenced(source: str) -> str:
    fenced = _FENCE.match(source)
    return fenced.group(1) if fenced else source


def _parses(source: str) -> bool:
    try:
        ast.parse(source)  # parsing only: nothing of the program runs outside the sandbox
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting: `- - - ... 1`
        return False
    return True


def cleaned(source: str) -> str:
    """The program without its transport artefacts: a markdown fence, and closing braces of the JSON
    reply leaked into the end of the source (the 1.5B model writes ``print(x)}`` in about 1 reply in 5;
    stripped only when the source does not parse with them and does without)."""
    source = _unfenced(source)
    if not _parses(source):
        trimmed = source.rstrip().rstrip("}").rstrip()
        if trimmed != source.rstrip() and _parses(trimmed):
            return trimmed
    return source


@dataclass
class ProgramEvidence:
    tries: list[tuple[str, ProgramRun]] = field(default_factory=list)
    """Each program written and how its run went, in order (later ones fix earlier ones)."""
    match: OptionMatch | None = None
    failure: str = ""
    """Why there is no result to compare (a rejection reason); empty when the last program ran."""
    detail: str = ""

    @property
    def run(self) -> ProgramRun | None:
        return self.tries[-1][1] if self.tries else None

    def outcome(self, key: int) -> Outcome:
        if self.match is None:
            return "failed"
        if self.match.index is None:
            return "ambiguous" if self.match.how == "ambiguous" else "no_match"
        return "agree" if self.match.index == key else "disagree"

    def record(self) -> dict[str, Any]:
        """Provenance: every program with its run, and the match (option indices as at generation)."""
        return {
            "tries": [{"program": program, "run": run.model_dump(mode="json")} for program, run in self.tries],
            "match": self.match.model_dump(mode="json") if self.match is not None else None,
        }

    def solution(self, mcq: MCQ) -> str:
        """The program and its output as a solution the contrastive judge can check."""
        assert self.run is not None and self.run.value is not None and self.match is not None
        assert self.match.index is not None
        work = (
            f"A program computed the answer from the question's givens:\n{self.tries[-1][0]}\n"
            f"It returned {self.run.value.text}."
        )
        return solution_text(work, self.match.index, mcq)


def check_with_program(
    model: RoleModel,
    prompts: PromptLibrary,
    mcq: MCQ,
    *,
    settings: ProgramVerification,
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
    runner: Callable[[str, SandboxLimits], ProgramRun] = run_program,
) -> ProgramEvidence:
    """Raises LLMError when a call fails; every fault of the program itself is evidence."""
    evidence = ProgramEvidence()
    previous_program, previous_error = "", ""
    for fix in range(settings.fix_attempts + 1):
        try:
            reply = ask(
                model,
                prompts,
                PROMPT_ID,
                {
                    "question": mcq.question,
                    "modules": sorted(ALLOWED_MODULES),
                    "previous_program": previous_program,
                    "previous_error": previous_error,
                },
                ProgramReply,
                # A greedy model shown its own program tends to write it again: fixes are sampled.
                temperature=settings.temperature if fix == 0 else max(settings.temperature, FIX_TEMPERATURE),
                seed=seed + fix,
                sample_key=f"{sample_key}|fix={fix}",
                max_repairs=max_repairs,
                attempt=attempt,
            ).value
        except LLMFatalError:
            raise
        except ParseError as error:
            evidence.failure, evidence.detail = "program_unparsable", str(error)[:300]
            return evidence
        program = cleaned(reply.program)
        run = runner(program, settings.limits)
        evidence.tries.append((program, run))
        if run.ok:
            break
        previous_program, previous_error = program, f"{run.failure}: {run.detail}"[:500]
    run = evidence.run
    assert run is not None
    if not run.ok or run.value is None:
        evidence.failure = f"program_{run.failure or 'no_answer'}"
        evidence.detail = f"{len(evidence.tries)} program(s) failed; last: {run.failure}: {run.detail}"[:500]
        return evidence
    evidence.match = match_option(run.value, mcq.choices, rel_tol=settings.rel_tolerance)
    return evidence
