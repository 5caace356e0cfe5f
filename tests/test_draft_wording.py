"""The wording check that turns down a draft asking for two things before any program or judge is paid."""

import pytest

from benchmaker.methods.benchmaker.draft_checks import DraftVerdict, several_requests


@pytest.mark.parametrize(
    "question",
    [
        # Written by the local model for the README's stoichiometry requirement (2026-11-30): one request each,
        # after an opening clause. The first version of the check turned both down.
        "In a chemical reaction, what is the limiting reagent when 2 moles of hydrogen gas (H₂) react with excess "
        "carbon dioxide (CO₂) to form water vapor (H₂O)?",
        "In the chemical reaction 2NH3 + O2 → N2H4 + H2O, how many grams of NH3 are needed to produce 1.50 moles "
        "of N2H4?",
        "What is 3/4 + 5/6?",
        "Given 12 g of carbon, and assuming complete combustion, how many moles of CO2 form?",
    ],
)
def test_one_request_after_an_opening_clause_passes(question):
    assert several_requests(question) is None


@pytest.mark.parametrize(
    ("question", "said"),
    [
        # The stoichiometry case: a quantity and the limiting reagent.
        (
            "N2 + 3H2 -> 2NH3. You have 6 moles of N2. Determine how many moles of H2 are needed and which "
            "reagent is the limiting reagent.",
            "and which",
        ),
        ("How many moles of O2 react, and what mass of water forms?", "and what"),
        ("What is the molar mass of water? What is it for ammonia?", "two question marks"),
        ("Calculate the mass of NaCl formed; how many moles of Na remain?", "; how many"),
    ],
)
def test_a_second_request_joined_to_a_first_is_turned_down(question, said):
    reason = several_requests(question)
    assert reason is not None and said in reason


# The judge's three readings of one percent question on the local model (2026-11-30): the first lists one thing,
# the second four wordings of it, the third copies the prompt's own example. The draft was turned down.
PRICE_QUESTION = "A jacket costs $100. It is on sale with a 20% discount. What is the final price after one discount?"


@pytest.mark.parametrize(
    ("asked", "things"),
    [
        (["Calculate the final price after one discount"], 1),
        (
            [
                "what will be the final price after one discount? ",
                "how much is the final price?",
                "find the final price after one discount",
                "determine the final price after one discount",
            ],
            1,
        ),
        (
            [
                "what will be the final price after one discount? ",
                "which reagent is limiting?",
                "how many moles are needed",
            ],
            1,
        ),
        (["the final price", "the discount in dollars"], 2),
    ],
)
def test_the_judge_listing_one_thing_in_several_wordings_reads_as_one(asked, things):
    verdict = DraftVerdict(asked=asked, choices_answer_it=True, broken_constraints=[])
    assert len(verdict.things_asked(PRICE_QUESTION)) == things


def test_topics_the_question_never_names_are_not_things_it_asks():
    # The local judge's reading of a decimals draft (2026-11-30), which turned it down.
    asked = ["What is 78.15 + 3.2?", "addition", "decimal numbers", "78.15", "+", "3.2"]  # six: the schema's limit
    verdict = DraftVerdict(asked=asked, choices_answer_it=True, broken_constraints=[])
    assert verdict.things_asked("What is 78.15 + 3.2?") == ["What is 78.15 + 3.2?"]


def test_two_things_the_question_really_asks_stay_two():
    question = "N2 + 3H2 -> 2NH3. You have 6 moles of N2. How many moles of H2 are needed, and which is limiting?"
    verdict = DraftVerdict(
        asked=["how many moles of H2 are needed", "which reagent is limiting"],
        choices_answer_it=True,
        broken_constraints=[],
    )
    assert verdict.things_asked(question) == ["how many moles of H2 are needed", "which reagent is limiting"]
    assert verdict.several_things(question)


def test_the_task_and_the_same_ask_as_a_question_are_one_thing():
    # The local judge's reading of a units draft (2026-11-30), which turned it down.
    verdict = DraftVerdict(
        asked=["convert 2.5 kilometers into meters", "how many meters are there"],
        choices_answer_it=True,
        broken_constraints=[],
    )
    assert verdict.things_asked("Convert a 2.5 km walk into meters.") == ["convert 2.5 kilometers into meters"]
