"""Program-verified answer keys inside an attempt: the programs vote, the decision table decides, and the
judge is asked only where the table says so. What happened is kept as evidence on the item or rejection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmaker.config import LETTERS, ProgramVerification
from benchmaker.items import MCQ, Rejection
from benchmaker.llm.factory import RoleModel
from benchmaker.methods.benchmaker.candidates import Candidate
from benchmaker.methods.benchmaker.discrimination import Discrimination, letter_free, solution_text
from benchmaker.methods.benchmaker.key_decision import KeyDecision, decide_key
from benchmaker.methods.benchmaker.program_check import ProgramVote, check_with_programs
from benchmaker.prompts import PromptLibrary
from benchmaker.verification.matching import match_option
from benchmaker.verification.values import ProgramValue

Judge = Callable[[MCQ, str, str, str], Discrimination]
"""(item, key's solution, rival solution, tag) -> the swapped-order verdicts."""


@dataclass(frozen=True)
class KeyedDraft:
    mcq: MCQ
    evidence: str
    solution: str
    """The worked solution that argues for this key, naming options by their text (letter-free)."""


def program_work(source: str, value: ProgramValue) -> str:
    return f"A program computed the answer from the question's givens:\n{source}\nIt returned {value.text}."


def _program_solution(vote: ProgramVote, mcq: MCQ, option: int, value: ProgramValue) -> str:
    source, written = vote.source_of(value)
    return solution_text(program_work(source, written), option, mcq)


def _value_of_option(vote: ProgramVote, mcq: MCQ, option: int, rel_tol: float) -> ProgramValue:
    return next(v for v, _ in vote.clusters if match_option(v, mcq.choices, rel_tol=rel_tol).index == option)


def program_key(
    *,
    model: RoleModel,
    prompts: PromptLibrary,
    settings: ProgramVerification,
    chosen: Candidate,
    seed: int,
    sample_key: str,
    attempt: int,
    max_repairs: int,
    judge: Judge | None,
    metadata: dict[str, Any],
    option_fields: dict[str, list[int | None]],
) -> KeyedDraft | Rejection:
    """The key the programs and a second derivation support, or the rejection saying why there is none.
    ``judge`` is None when the judge may not be asked (steps.discrimination off)."""
    mcq = chosen.mcq
    vote = check_with_programs(
        model,
        prompts,
        mcq.question,
        settings=settings,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
        max_repairs=max_repairs,
    )
    decision = decide_key(vote, mcq, chosen.value, settings)
    record: dict[str, Any] = {**vote.record(), **_decision_record(decision)}
    metadata["prompts"]["benchmaker.write_program"] = prompts.get("benchmaker.write_program").ref

    def reject(reason: str, detail: str) -> Rejection:
        return Rejection(
            attempt=attempt, stage="program", reason=reason, detail=detail[:500], draft=mcq,
            evidence={"program": record},
        )  # fmt: skip

    if decision.rejected:
        return reject(decision.reason, decision.detail)
    keyed: KeyedDraft
    if decision.judge_options is not None:
        confirm, rival = decision.judge_options
        tol = settings.rel_tolerance
        disagree = decision.outcome == "disagree"
        if judge is None or (disagree and settings.on_disagreement == "reject"):
            return reject("program_disagrees" if disagree else "programs_disagree", decision.detail)
        if disagree:
            assert vote.value is not None
            computed = _program_solution(vote, mcq, confirm, vote.value)
            verdict = judge(mcq, solution_text(chosen.reasoning, rival, mcq), computed, "discriminate-program")
        else:  # split: the two options the programs point to most, weighed against each other
            first = _program_solution(vote, mcq, confirm, _value_of_option(vote, mcq, confirm, tol))
            second = _program_solution(vote, mcq, rival, _value_of_option(vote, mcq, rival, tol))
            verdict = judge(mcq, first, second, "discriminate-programs")
        record.update(discrimination=verdict.verdicts)
        option_fields["judge_labels"] = verdict.named
        if not verdict.accepted:
            return reject(verdict.reason, f"{decision.detail}; {verdict.detail}")
        assert verdict.label is not None
        if disagree and verdict.label != confirm:
            detail = f"{decision.detail}; the judge named {LETTERS[verdict.label]} twice"
            return reject("judge_contradicts_program", detail)
        judged = MCQ(question=mcq.question, choices=mcq.choices, answer_index=verdict.label)
        value = vote.value if disagree else _value_of_option(vote, mcq, verdict.label, tol)
        assert value is not None
        work = letter_free(program_work(*vote.source_of(value)), mcq.choices)
        keyed = KeyedDraft(judged, "program+judge" if disagree else "judge", work)
    else:
        assert decision.mcq is not None and decision.evidence is not None and vote.value is not None
        if decision.outcome == "agree":
            solution = letter_free(chosen.reasoning, mcq.choices)
        else:  # the generator's letter slipped or its options were repaired: the programs' work argues for it
            solution = letter_free(program_work(*vote.source_of(vote.value)), decision.mcq.choices)
        keyed = KeyedDraft(decision.mcq, decision.evidence, solution)
        if decision.repair is not None:
            option_fields["repaired_option"] = [decision.repair.replaced_index]
    option_fields["program_option"] = [keyed.mcq.answer_index]
    metadata["program"] = record
    metadata["options_repaired"] = decision.repair is not None
    return keyed


def _decision_record(decision: KeyDecision) -> dict[str, Any]:
    record: dict[str, Any] = {
        "outcome": decision.outcome,
        "match": decision.match.model_dump(mode="json") if decision.match is not None else None,
        "generator_value_agrees": decision.generator_value_agrees,
    }
    if decision.detail:
        record["detail"] = decision.detail
    if decision.repair is not None:
        record["repair"] = decision.repair.model_dump(mode="json")
    return record
