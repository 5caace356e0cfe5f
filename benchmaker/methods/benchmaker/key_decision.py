"""Which key the evidence supports, once the programs have voted: the decision table, as a pure function.

Three derivations meet here, each fallible on its own: the programs' majority value V (computed from the
question alone), the generator's option letter K, and the generator's own final value G (written apart
from the letter). A key is kept only where two of them agree, or where the judge confirms V against the
generator's solution; a value that nothing but the programs supports is never written into the options.

- V is the key's option: keep K (program+generator).
- V is another option j, and G states V (the letter slipped): key j (program+generator).
- V is another option j, and G does not state V: the judge must confirm j twice (program+judge).
- V is no option, G states V, repair allowed: V written over a distractor (program+generator).
- V is no option, G does not state V: reject program_unconfirmed (repair "confirmed", the default);
  with repair "unconfirmed" (the old policy) V is written in anyway (evidence: program alone).
- V is no option, repair off: reject program_no_matching_option.
- V matches several options: reject program_ambiguous_match.
- No majority among the programs: reject programs_disagree (or, on_split discriminate, the judge chooses).

An option stating G is never replaced by a repair, whichever mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchmaker.config import LETTERS, ProgramVerification
from benchmaker.items import MCQ
from benchmaker.methods.benchmaker.program_check import ProgramVote
from benchmaker.verification.matching import OptionMatch, match_option, states_value
from benchmaker.verification.repair import Repair, repair_options
from benchmaker.verification.values import encode

Outcome = Literal[
    "agree", "letter_slip", "disagree", "repaired", "no_match", "unconfirmed", "ambiguous", "split", "failed"
]


@dataclass(frozen=True)
class KeyDecision:
    outcome: Outcome
    mcq: MCQ | None = None
    """The item keyed as decided (options repaired if they were); None when rejected or the judge must decide."""
    evidence: str | None = None
    judge_options: tuple[int, int] | None = None
    """(option the judge must confirm, the option it is weighed against): outcome disagree or split."""
    reason: str = ""
    """A rejection reason; empty unless the draft is rejected."""
    detail: str = ""
    match: OptionMatch | None = None
    repair: Repair | None = None
    generator_value_agrees: bool | None = None
    """Whether the generator's own value states the computed one (None: no value, or nothing computed)."""

    @property
    def rejected(self) -> bool:
        return bool(self.reason)


def _options_stating(text: str, choices: tuple[str, ...], rel_tol: float) -> tuple[int, ...]:
    if not text.strip():
        return ()
    return match_option(encode(text), choices, rel_tol=rel_tol).matches


def _split(vote: ProgramVote, mcq: MCQ, settings: ProgramVerification) -> KeyDecision:
    """No majority: reject, or (on_split discriminate) hand the two options the programs point to most to the
    judge, the larger cluster's first."""
    if settings.on_split == "discriminate" and vote.clusters:
        pointed: list[int] = []
        for value, _members in vote.clusters:
            index = match_option(value, mcq.choices, rel_tol=settings.rel_tolerance).index
            if index is not None and index not in pointed:
                pointed.append(index)
        if len(pointed) >= 2:
            return KeyDecision(
                "split", judge_options=(pointed[0], pointed[1]), detail=f"programs split: {vote.detail()}"
            )
    return KeyDecision("split" if vote.clusters else "failed", reason=vote.failure, detail=vote.detail())


def decide_key(vote: ProgramVote, mcq: MCQ, generator_value: str, settings: ProgramVerification) -> KeyDecision:
    """The decision table above. ``generator_value`` is the generator's own final value ("" if it gave none)."""
    value = vote.value
    if value is None:
        return _split(vote, mcq, settings)
    tol = settings.rel_tolerance
    key = mcq.answer_index
    match = match_option(value, mcq.choices, rel_tol=tol)
    agrees = states_value(generator_value, value, rel_tol=tol) if generator_value.strip() else None
    common = {"match": match, "generator_value_agrees": agrees}
    said = f"the programs computed {value.text[:60]!r}; the generator's value is {generator_value[:60]!r}"
    if match.index == key:
        return KeyDecision("agree", mcq=mcq, evidence="program+generator", **common)
    if match.index is not None:
        if agrees:
            slipped = MCQ(question=mcq.question, choices=mcq.choices, answer_index=match.index)
            detail = f"{said}, option {LETTERS[match.index]}; the generator's letter {LETTERS[key]} slipped"
            return KeyDecision("letter_slip", mcq=slipped, evidence="program+generator", detail=detail, **common)
        detail = f"the programs give {LETTERS[match.index]}, the key is {LETTERS[key]}: {match.detail}"
        return KeyDecision("disagree", judge_options=(match.index, key), detail=detail, **common)
    if match.how == "ambiguous":
        return KeyDecision("ambiguous", reason="program_ambiguous_match", detail=match.detail, **common)
    mode = settings.repair_options
    if mode == "off":
        return KeyDecision("no_match", reason="program_no_matching_option", detail=match.detail, **common)
    if mode == "confirmed" and not agrees:
        detail = f"{said}: no option holds the computed value and the generator's own value does not confirm it"
        return KeyDecision("unconfirmed", reason="program_unconfirmed", detail=detail, **common)
    keep = _options_stating(generator_value, mcq.choices, tol)
    repair = repair_options(value, mcq.choices, key, rel_tol=tol, keep=keep)
    if repair is None:
        detail = f"{match.detail} (and it cannot be written in as an option)"
        return KeyDecision("no_match", reason="program_no_matching_option", detail=detail, **common)
    repaired = MCQ(question=mcq.question, choices=repair.choices, answer_index=repair.answer_index)
    evidence = "program+generator" if agrees else "program"
    return KeyDecision("repaired", mcq=repaired, evidence=evidence, repair=repair, detail=said, **common)
