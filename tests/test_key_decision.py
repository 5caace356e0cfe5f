"""The key decision table, row by row, on hand-built votes: which key the programs' majority, the
generator's letter and the generator's own value support, and what is never done (keying a value nothing
else supports, replacing an option that states the generator's value)."""

import pytest

from benchmaker.config import ProgramVerification
from benchmaker.items import MCQ
from benchmaker.methods.benchmaker.key_decision import decide_key
from benchmaker.methods.benchmaker.program_check import ProgramAttempt, tally
from benchmaker.verification.sandbox import ProgramRun
from benchmaker.verification.values import encode


def attempt(value) -> ProgramAttempt:
    """A program that ran and returned ``value`` (None: a program that failed)."""
    if value is None:
        run = ProgramRun(ok=False, failure="exception", detail="boom", seconds=0.1, isolation=("process",))
        return ProgramAttempt(tries=[("raise", run)], failure="program_exception", detail="boom")
    run = ProgramRun(ok=True, value=encode(value), seconds=0.1, isolation=("process",))
    return ProgramAttempt(tries=[(f"answer = {value!r}", run)])


def vote(*values, requested=3):
    return tally([attempt(v) for v in values], requested, 1e-6)


def mcq(choices, key):
    text = "N2 + 3H2 -> 2NH3. How many moles of H2 react with 6 mol of N2?"
    return MCQ(question=text, choices=choices, answer_index=key)


SETTINGS = ProgramVerification()


def test_majority_value_equal_to_the_key_keeps_it_backed_by_program_and_generator():
    decision = decide_key(vote(18, 18), mcq(["18 mol", "9 mol", "6 mol", "2 mol"], 0), "18 mol", SETTINGS)
    assert (decision.outcome, decision.evidence, decision.mcq.answer_index) == ("agree", "program+generator", 0)
    assert decision.generator_value_agrees is True and not decision.rejected


def test_a_slipped_letter_is_corrected_when_the_generators_own_value_states_the_computed_one():
    decision = decide_key(vote(18, 18), mcq(["9 mol", "18 mol", "6 mol", "2 mol"], 0), "18", SETTINGS)
    assert (decision.outcome, decision.evidence, decision.mcq.answer_index) == ("letter_slip", "program+generator", 1)
    assert decision.mcq.choices == ("9 mol", "18 mol", "6 mol", "2 mol")  # options untouched


def test_another_option_without_the_generators_value_goes_to_the_judge():
    decision = decide_key(vote(18, 18), mcq(["9 mol", "18 mol", "6 mol", "2 mol"], 0), "9 mol", SETTINGS)
    assert decision.outcome == "disagree" and decision.judge_options == (1, 0) and decision.mcq is None
    no_value = decide_key(vote(18, 18), mcq(["9 mol", "18 mol", "6 mol", "2 mol"], 0), "", SETTINGS)
    assert no_value.outcome == "disagree" and no_value.generator_value_agrees is None


def test_no_option_is_repaired_only_when_the_generators_own_value_confirms_the_computed_one():
    choices = ["20 mol", "9 mol", "6 mol", "2 mol"]
    decision = decide_key(vote(18, 18), mcq(choices, 0), "18 mol", SETTINGS)
    assert decision.outcome == "repaired" and decision.evidence == "program+generator"
    assert decision.mcq.choices[decision.mcq.answer_index] == "18 mol" and "20 mol" in decision.mcq.choices
    unconfirmed = decide_key(vote(18, 18), mcq(choices, 0), "20 mol", SETTINGS)
    assert (unconfirmed.outcome, unconfirmed.reason) == ("unconfirmed", "program_unconfirmed")
    assert unconfirmed.mcq is None


def test_repair_off_rejects_and_repair_unconfirmed_is_the_programs_word_alone():
    choices = ["20 mol", "9 mol", "6 mol", "2 mol"]
    off = decide_key(vote(18, 18), mcq(choices, 0), "18 mol", SETTINGS.model_copy(update={"repair_options": "off"}))
    assert off.reason == "program_no_matching_option"
    old = SETTINGS.model_copy(update={"repair_options": "unconfirmed"})
    alone = decide_key(vote(18, 18), mcq(choices, 0), "20 mol", old)
    assert alone.outcome == "repaired" and alone.evidence == "program"  # not accepted by the default policy


def test_the_stoichiometry_case_is_never_keyed_9_and_18_is_never_removed():
    """Measured on a fresh clone: the generator said 18 (right), one program computed 9 (wrong), no option
    was 9, and the old policy wrote 9 over "18"."""
    choices = ["4", "18", "6", "2"]
    for generator_letter in range(4):
        for settings in (SETTINGS, SETTINGS.model_copy(update={"repair_options": "unconfirmed"})):
            for programs in (vote(9, 9), vote(9, requested=1)):
                decision = decide_key(programs, mcq(choices, generator_letter), "18", settings)
                if decision.mcq is not None:
                    assert "18" in decision.mcq.choices
                    keyed = decision.mcq.choices[decision.mcq.answer_index]
                    assert keyed != "9" or decision.evidence == "program"  # only the old policy's own level
                    assert decision.evidence != "program+generator" or keyed == "18"
    default = decide_key(vote(9, 9), mcq(choices, 1), "18", SETTINGS)
    assert default.reason == "program_unconfirmed"


def test_a_value_matching_several_options_is_rejected():
    decision = decide_key(vote(12, 12), mcq(["12", "12.0 kg", "13", "14"], 0), "12", SETTINGS)
    assert decision.reason == "program_ambiguous_match"


def test_no_majority_is_rejected_or_handed_to_the_judge_when_configured():
    choices = ["18 mol", "9 mol", "6 mol", "2 mol"]
    split = vote(18, 9, 6)
    decision = decide_key(split, mcq(choices, 0), "18", SETTINGS)
    assert (decision.outcome, decision.reason) == ("split", "programs_disagree")
    judged = decide_key(split, mcq(choices, 0), "18", SETTINGS.model_copy(update={"on_split": "discriminate"}))
    assert judged.outcome == "split" and judged.judge_options == (0, 1) and not judged.rejected
    failed = decide_key(vote(None, None), mcq(choices, 0), "18", SETTINGS)
    assert (failed.outcome, failed.reason) == ("failed", "program_exception")


@pytest.mark.parametrize(
    ("values", "requested", "majority_value"),
    [
        ((18, 18), 3, 18),  # the first two agree: a majority of 3
        ((18, 9, 18), 3, 18),
        ((18, 9, 6), 3, None),
        ((18, None, None), 3, None),  # one value of three is no majority
        ((18.0, 18), 3, 18.0),  # the same number written two ways
        ((18.00000001, 18), 3, 18.0),  # within the relative tolerance of 1e-6 (float noise)
        ((18.0001, 18), 3, None),  # beyond it: 5.6e-6 apart
        ((9,), 1, 9),
        ((18, 18, 9, 9), 5, None),
    ],
)
def test_a_value_counts_as_computed_only_with_a_strict_majority_of_the_requested_programs(
    values, requested, majority_value
):
    result = vote(*values, requested=requested)
    if majority_value is None:
        assert result.value is None
    else:
        assert result.value is not None and float(result.value.text) == pytest.approx(majority_value)
    assert result.skipped == requested - len(values)
