"""Program-verified answer keys, the programs' side: k programs sampled from the question alone (they never
see the choices), each run in the sandbox (a failing one is sent back with its error), and their values
clustered. A value counts as computed only when a strict majority of the k programs agree on it: a program
written by the same small model is one more fallible derivation, not an oracle.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import ProgramVerification
from benchmaker.errors import LLMFatalError, ParseError
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.fanout import together
from benchmaker.llm.structured import ReplyInvalid, parse_reply
from benchmaker.methods.benchmaker.calls import ask, sample
from benchmaker.prompts import PromptLibrary
from benchmaker.verification.matching import values_agree
from benchmaker.verification.sandbox import ALLOWED_MODULES, ProgramRun, SandboxLimits, run_program
from benchmaker.verification.values import ProgramValue

PROMPT_ID = "benchmaker.write_program"
FIX_TEMPERATURE = 0.8
"""Lowest temperature of a fix: at 0 the 1.5B model returned the same failing program every time."""
# A coder model often wraps the source in a markdown fence even inside a JSON string.
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)
Runner = Callable[[str, SandboxLimits], ProgramRun]


class ProgramReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: str = Field(min_length=1)


def _unfenced(source: str) -> str:
    fenced = _FENCE.match(source)
    return fenced.group(1) if fenced else source


def _parses(source: str) -> bool:
    """Whether the source compiles to an AST. Nothing of it runs here; a source that makes the parser itself
    fail (too deeply nested, a null byte, out of memory) counts as not parsing, it never raises."""
    try:
        compile(source, "<program>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
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
class ProgramAttempt:
    """One of the k programs: each source written (later ones fix earlier ones) and how its run went."""

    tries: list[tuple[str, ProgramRun]] = field(default_factory=list)
    failure: str = ""
    """Why it gave no value (a rejection-style code such as program_timeout); empty when it did."""
    detail: str = ""

    @property
    def value(self) -> ProgramValue | None:
        if self.failure or not self.tries:
            return None
        return self.tries[-1][1].value

    def record(self) -> dict[str, Any]:
        return {
            "tries": [{"program": program, "run": run.model_dump(mode="json")} for program, run in self.tries],
            **({"failure": self.failure, "detail": self.detail} if self.failure else {}),
        }


@dataclass
class ProgramVote:
    """The k programs of one draft and what they agree on."""

    requested: int
    attempts: list[ProgramAttempt] = field(default_factory=list)
    clusters: list[tuple[ProgramValue, list[int]]] = field(default_factory=list)
    """Each distinct value (as the first program that gave it wrote it) and the programs that gave it."""

    @property
    def skipped(self) -> int:
        """Programs never asked for: the first ones already formed a majority."""
        return self.requested - len(self.attempts)

    @property
    def majority(self) -> int:
        return self.requested // 2 + 1

    @property
    def value(self) -> ProgramValue | None:
        """The value a strict majority of the requested programs computed, if any."""
        for value, members in self.clusters:
            if len(members) >= self.majority:
                return value
        return None

    @property
    def supporters(self) -> list[int]:
        return next((members for _, members in self.clusters if len(members) >= self.majority), [])

    @property
    def failure(self) -> str:
        """Why there is no computed value: the programs ran and disagree (programs_disagree), or they failed,
        named by the most common failure (all of them are in the detail). Empty when there is a value."""
        if self.value is not None:
            return ""
        if self.clusters:
            return "programs_disagree"
        codes = Counter(attempt.failure for attempt in self.attempts if attempt.failure)
        return codes.most_common(1)[0][0] if codes else "program_no_answer"  # the first seen wins a tie

    def detail(self) -> str:
        values = "; ".join(f"{value.text[:40]!r} x{len(members)}" for value, members in self.clusters)
        failed = [a.failure for a in self.attempts if a.failure]
        parts = [f"{len(self.attempts)} of {self.requested} programs ran, a majority needs {self.majority}"]
        if values:
            parts.append(f"values: {values}")
        if failed:
            last = next(a.detail for a in reversed(self.attempts) if a.failure)
            parts.append(f"failed: {', '.join(failed)}; last: {last}")
        return ". ".join(parts)[:500]

    def source_of(self, value: ProgramValue) -> tuple[str, ProgramValue]:
        """A program that computed ``value`` (the first), and the value as it wrote it."""
        for cluster_value, members in self.clusters:
            if cluster_value is value:
                return self.attempts[members[0]].tries[-1][0], cluster_value
        raise ValueError("not a value of this vote")

    def record(self) -> dict[str, Any]:
        """Provenance: every program with its runs, the clusters, the majority value."""
        return {
            "requested": self.requested,
            "skipped": self.skipped,
            "programs": [attempt.record() for attempt in self.attempts],
            "clusters": [
                {"value": value.model_dump(mode="json"), "programs": members} for value, members in self.clusters
            ],
            "value": self.value.model_dump(mode="json") if self.value is not None else None,
            "supporters": self.supporters,
        }


def tally(attempts: list[ProgramAttempt], requested: int, rel_tol: float) -> ProgramVote:
    vote = ProgramVote(requested=requested, attempts=attempts)
    for index, attempt in enumerate(attempts):
        value = attempt.value
        if value is None:
            continue
        for cluster_value, members in vote.clusters:
            if values_agree(cluster_value, value, rel_tol=rel_tol):
                members.append(index)
                break
        else:
            vote.clusters.append((value, [index]))
    vote.clusters.sort(key=lambda cluster: -len(cluster[1]))  # stable: ties keep the first program's order
    return vote


@dataclass(frozen=True)
class _Writer:
    model: RoleModel
    prompts: PromptLibrary
    question: str
    settings: ProgramVerification
    seed: int
    sample_key: str
    attempt: int
    max_repairs: int
    runner: Runner

    def variables(self, previous_program: str = "", previous_error: str = "") -> dict[str, Any]:
        return {
            "question": self.question,
            "modules": sorted(ALLOWED_MODULES),
            "previous_program": previous_program,
            "previous_error": previous_error,
        }

    def batch(self, n: int, offset: int) -> list[ProgramAttempt]:
        """n programs in one sampled request (the provider's n, or n seeded calls); then each is run, and a
        failing one is sent back with its error up to ``fix_attempts`` times."""
        texts = sample(
            self.model,
            self.prompts.get(PROMPT_ID).render(**self.variables()),
            PROMPT_ID,
            ProgramReply,
            n=n,
            temperature=self.settings.temperature,
            seed=self.seed + offset,
            sample_key=f"{self.sample_key}|from={offset}",
            attempt=self.attempt,
        )
        # Each program runs (and is fixed) on its own: together where the provider takes parallel requests.
        runs = [partial(self._run, text, offset + index) for index, text in enumerate(texts)]
        return together(runs, parallel=self.model.parallel)

    def _run(self, text: str, index: int) -> ProgramAttempt:
        attempt = ProgramAttempt()
        try:
            source = cleaned(parse_reply(text, ProgramReply).program)
        except ReplyInvalid as error:
            attempt.failure, attempt.detail = "program_unparsable", str(error)[:300]
            return attempt
        for fix in range(self.settings.fix_attempts + 1):
            run = self.runner(source, self.settings.limits)
            attempt.tries.append((source, run))
            if run.ok and run.value is not None:
                return attempt
            if fix == self.settings.fix_attempts:
                break
            error = f"{run.failure or 'no_answer'}: {run.detail}"[:500]
            try:
                reply = ask(
                    self.model,
                    self.prompts,
                    PROMPT_ID,
                    self.variables(source, error),
                    ProgramReply,
                    # A greedy model shown its own program tends to write it again: fixes are sampled.
                    temperature=max(self.settings.temperature, FIX_TEMPERATURE),
                    seed=self.seed + 100 * (index + 1) + fix,
                    sample_key=f"{self.sample_key}|program={index}|fix={fix + 1}",
                    max_repairs=self.max_repairs,
                    attempt=self.attempt,
                ).value
            except LLMFatalError:
                raise
            except ParseError as parse_error:
                attempt.failure, attempt.detail = "program_unparsable", str(parse_error)[:300]
                return attempt
            source = cleaned(reply.program)
        run = attempt.tries[-1][1]
        attempt.failure = f"program_{run.failure or 'no_answer'}"
        attempt.detail = f"{len(attempt.tries)} version(s) failed; last: {run.failure}: {run.detail}"[:500]
        return attempt


def check_with_programs(
    model: RoleModel,
    prompts: PromptLibrary,
    question: str,
    *,
    settings: ProgramVerification,
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
    runner: Runner = run_program,
) -> ProgramVote:
    """The programs' vote on the question's answer. Raises LLMError when a call fails; every fault of a
    program itself is evidence. With ``early_stop``, a bare majority is asked for first, and the rest only
    when those do not all agree and could still make a majority."""
    writer = _Writer(model, prompts, question, settings, seed, sample_key, attempt, max_repairs, runner)
    k = settings.programs
    first = k // 2 + 1 if settings.early_stop else k
    attempts = writer.batch(first, 0)
    vote = tally(attempts, k, settings.rel_tolerance)
    largest = max((len(members) for _, members in vote.clusters), default=0)
    if vote.value is None and largest + (k - first) >= vote.majority:  # the rest could still form a majority
        attempts += writer.batch(k - first, first)
        vote = tally(attempts, k, settings.rel_tolerance)
    return vote
