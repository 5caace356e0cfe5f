"""The wording check that turns down a draft asking for two things before any program or judge is paid."""

import pytest

from benchmaker.methods.benchmaker.draft_checks import several_requests


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
