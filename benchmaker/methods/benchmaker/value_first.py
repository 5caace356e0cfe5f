"""``program.order: value_first``: agreement by construction. The generator writes a stem (question, worked
solution, its own value, no choices); k programs compute the value from the question alone; the choices are
then built around the value the programs agree on, with distractors from typical mistakes. The key is the
computed value by construction, so what remains to check is a second derivation: the generator's own value
(``program+generator``), or, when that differs, the solvers' majority after the choices exist
(``program+solvers``, decided in self test-taking). A value nothing but the programs supports is never kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.answer_checks import evaluate_expression
from benchmaker.config import ProgramVerification
from benchmaker.errors import LLMFatalError, ParseError
from benchmaker.items import MCQ, Rejection, normalize_text
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.methods.benchmaker.candidates import Candidate
from benchmaker.methods.benchmaker.discrimination import letter_free
from benchmaker.methods.benchmaker.program_check import check_with_programs
from benchmaker.methods.benchmaker.program_keys import program_work
from benchmaker.prompts import PromptLibrary
from benchmaker.verification.matching import count_numbers, match_option, states_value
from benchmaker.verification.values import ProgramValue

PROMPT_ID = "benchmaker.distractors"


class DistractorReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distractors: list[str] = Field(min_length=1, max_length=32)


@dataclass(frozen=True)
class BuiltItem:
    mcq: MCQ
    evidence: str
    """program+generator, or program+solvers: still to be confirmed by the solvers' majority."""
    solution: str


def value_text(value: ProgramValue) -> str:
    """The computed value as an answer choice: exact forms as they are, floats to 10 significant digits."""
    if value.kind == "float":
        return format(float(value.text), ".10g")
    return value.text


SPARE_DISTRACTORS = 2
"""Asked for beyond the places to fill, so one unusable distractor (on the local model, often "8.6" for 8.55,
which reads as the value rounded) does not cost the whole attempt."""


# "/" and "^" between digits write one number ("3/4", "10^3"), not an operation on two.
_OPERATOR = re.compile(r"(?<=[\d)])\s*([-+*×÷=])\s*(?=[\d(])")


def _operators(text: str) -> set[str]:
    """The operators written between numbers: "0.2173 * 5.678" has {"*"}; "3/4" and "-2" have none."""
    return set(_OPERATOR.findall(text))


def _bare(text: str, correct: str) -> str:
    """A distractor written as an equation ("7/10 + 5/8 = 33/40") is the wrong result it ends with ("33/40"),
    and a bare arithmetic expression ("5/8 - 7/10") the value it has ("-3/40", written as the correct answer
    is: a fraction, or a decimal when that is exact), unless the correct answer is itself an equation or an
    expression. Both seen on the local model for every distractor of a draft, which cost the attempt."""
    text = text.strip()
    if "=" in text and "=" not in correct:
        text = text.rsplit("=", 1)[-1].strip()
    if not _operators(text) or _operators(correct):
        return text
    try:
        result = evaluate_expression(text)
    except ValueError:
        return text  # not plain arithmetic: left to the checks below, which leave it out
    if "/" in correct or result.denominator == 1:
        return str(result)
    decimal = Decimal(result.numerator) / Decimal(result.denominator)
    return format(decimal.normalize(), "f") if Fraction(decimal) == result else text


def choose_distractors(
    distractors: Sequence[str], correct: str, value: ProgramValue, rel_tol: float, needed: int
) -> tuple[list[str], list[str]]:
    """The first ``needed`` usable distractors in the model's order, and why each one left out was.

    An equation counts as the result it ends with. Unusable: blank, equal to the correct answer or to one
    already chosen (normalised text), stating the computed value (within the matching tolerance; "5/8 + 7/10
    = 53/40" states 53/40, seen on the local model), an expression where the correct answer is a value
    ("0.2173300458 * 5.678" beside 0.2173300458), or a sentence holding more numbers than the answer ("25
    kilometers equals 2,500 meters" beside "2500 meters": it states the value at its end; both seen there).
    """
    chosen: list[str] = []
    left_out: list[str] = []
    seen = {normalize_text(correct)}
    for text in (_bare(d, correct) for d in distractors):
        if len(chosen) == needed:
            break
        if not text:
            left_out.append("a blank distractor")
        elif normalize_text(text) in seen:
            left_out.append(f"{text[:60]!r} repeats another choice")
        elif states_value(text, value, rel_tol=rel_tol):
            left_out.append(f"{text[:60]!r} states the computed value")
        elif _operators(text) - _operators(correct):
            left_out.append(f"{text[:60]!r} is an expression, not an answer in the correct one's form")
        elif count_numbers(text) > count_numbers(correct):
            left_out.append(f"{text[:60]!r} holds more numbers than the correct answer (a working, not an answer)")
        else:
            chosen.append(text)
            seen.add(normalize_text(text))
    return chosen, left_out


def build_around_value(
    *,
    model: RoleModel,
    prompts: PromptLibrary,
    settings: ProgramVerification,
    stem: Candidate,
    n_options: int,
    constraints: Sequence[str],
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
    metadata: dict[str, Any],
) -> BuiltItem | Rejection:
    """The item built around the programs' value, or the rejection saying why it could not be."""
    vote = check_with_programs(
        model,
        prompts,
        stem.question,
        settings=settings,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
        max_repairs=max_repairs,
    )
    record: dict[str, Any] = vote.record()
    metadata["prompts"]["benchmaker.write_program"] = prompts.get("benchmaker.write_program").ref
    metadata["program"] = record

    def reject(reason: str, detail: str, draft: MCQ | None = None) -> Rejection:
        return Rejection(
            attempt=attempt, stage="program", reason=reason, detail=detail[:500], draft=draft,
            evidence={"program": record, "stem": {"question": stem.question, "value": stem.value}},
        )  # fmt: skip

    value = vote.value
    if value is None:
        record["outcome"] = "split" if vote.clusters else "failed"
        return reject(vote.failure, vote.detail())
    tol = settings.rel_tolerance
    agrees = states_value(stem.value, value, rel_tol=tol)
    record["generator_value_agrees"] = agrees
    correct = stem.value if agrees else value_text(value)
    metadata["prompts"][PROMPT_ID] = prompts.get(PROMPT_ID).ref
    try:
        reply = ask(
            model,
            prompts,
            PROMPT_ID,
            {"question": stem.question, "answer": correct, "n_distractors": n_options - 1 + SPARE_DISTRACTORS,
             "constraints": list(constraints)},
            DistractorReply,
            temperature=0.7,
            seed=seed + 1000,
            sample_key=f"{sample_key}|distractors",
            max_repairs=max_repairs,
            attempt=attempt,
        ).value  # fmt: skip
    except LLMFatalError:
        raise
    except ParseError as error:
        record["outcome"] = "no_distractors"
        return reject("distractors_unparsable", str(error))
    distractors, left_out = choose_distractors(reply.distractors, correct, value, tol, needed=n_options - 1)
    record["distractors_left_out"] = left_out
    if len(distractors) < n_options - 1:
        record["outcome"] = "no_distractors"
        why = "; ".join(left_out) or "none other"
        return reject("distractors_invalid", f"{len(distractors)} usable distractors for {n_options - 1} places: {why}")
    mcq = MCQ(question=stem.question, choices=(correct, *distractors), answer_index=0)
    match = match_option(value, mcq.choices, rel_tol=tol)
    record["match"] = match.model_dump(mode="json")
    if match.index != 0:  # the computed value must read back as the correct choice, and only as it
        record["outcome"] = "ambiguous"
        return reject("program_ambiguous_match", match.detail, mcq)
    record["outcome"] = "built"
    if agrees:
        return BuiltItem(mcq, "program+generator", letter_free(stem.reasoning, mcq.choices))
    source, written = vote.source_of(value)
    return BuiltItem(mcq, "program+solvers", letter_free(program_work(source, written), mcq.choices))
