"""The independent arithmetic key checker: right, wrong, and 'cannot tell' are kept apart."""

from fractions import Fraction

import pytest

from benchmaker.answer_checks import check_arithmetic, evaluate_expression, find_expression, summarise
from benchmaker.errors import ConfigError
from benchmaker.items import letter_labelled


@pytest.mark.parametrize(
    ("question", "expression", "value"),
    [
        ("What is the value of 3 + 4 * (2 - 5)?", "3 + 4 * (2 - 5)", -9),
        ("Evaluate 12 ÷ 4 × 3.", "12 ÷ 4 × 3", 9),
        ("Compute (15 - 3) x 2 + 7", "(15 - 3) * 2 + 7", 31),
        ("What is 39 multiplied by 46?", "39 * 46", 1794),
        ("What is 7 divided by 2?", "7 / 2", Fraction(7, 2)),
    ],
)
def test_expressions_are_found_and_evaluated_exactly(question, expression, value):
    assert find_expression(question) == expression
    assert evaluate_expression(expression) == value


@pytest.mark.parametrize(
    "question",
    ["Solve 2x + 3 = 7", "If 2x + 3 is 7, what is x?", "Tom has apples.", "What is 5?"],
)
def test_equations_algebra_and_prose_have_no_expression(question):
    assert find_expression(question) is None


def test_keys_are_judged_against_the_computed_value():
    right = check_arithmetic("What is 3 + 4 * 2?", ["14", "11", "10", "24"], 1)
    wrong = check_arithmetic("What is 3 + 4 * 2?", ["14", "11", "10", "24"], 0)
    assert (right.status, right.computed) == ("correct", "11")
    assert (wrong.status, wrong.computed) == ("wrong", "11") and "options equal to it: [1]" in wrong.detail
    none_right = check_arithmetic("What is 3 + 4 * 2?", ["14", "12", "10", "24"], 0)
    assert none_right.status == "wrong" and "none" in none_right.detail


@pytest.mark.parametrize(
    ("question", "choices", "why"),
    [
        ("Calculate the sum of 12 and (3 * 4).", ["24", "12", "3", "4"], "numbers outside"),  # 12 + 12, not 12
        ("What is 3 + 4?", ["seven", "6", "8", "9"], "not a number"),
        ("What is 3 / (2 - 2)?", ["0", "1", "2", "3"], "cannot evaluate"),
        ("What is 2 ** 10?", ["1024", "20", "12", "100"], "no arithmetic expression"),
    ],
)
def test_what_the_checker_cannot_read_is_unchecked_not_guessed(question, choices, why):
    check = check_arithmetic(question, choices, 0)
    assert check.status == "unchecked" and why in check.detail


@pytest.mark.parametrize(
    ("question", "choices", "key", "status"),
    [
        ("What is 3/4 + 5/6?", ["19/12", "8/10", "1 7/12 ", "2"], 0, "correct"),
        ("What is 3/4 + 5/6?", ["8/10", "1 7/12", "2", "15/24"], 1, "correct"),  # a mixed number
        ("What is 1/2 - 5/6?", ["1/3", "-1/3", "−2/6", "4/6"], 0, "wrong"),
        ("What is 1/2 - 5/6?", ["1/3", "-1/3", "2/3", "4/6"], 1, "correct"),
        ("What is 2/3 + 1/3?", ["1", "3/6", "2/9", "1/3"], 0, "correct"),
    ],
)
def test_fraction_answers_are_compared_by_value(question, choices, key, status):
    assert check_arithmetic(question, choices, key).status == status


def test_summary_shares_are_over_checked_keys_only():
    checks = [
        check_arithmetic("What is 1 + 1?", ["2", "3"], 0),
        check_arithmetic("What is 1 + 1?", ["2", "3"], 1),
        check_arithmetic("Tom has apples.", ["2", "3"], 0),
    ]
    assert summarise(checks) == {"correct": 1, "wrong": 1, "unchecked": 1, "correct_share": 0.5}
    assert summarise([])["correct_share"] is None


def test_unknown_checker_is_a_config_error():
    from benchmaker.answer_checks import get_checker

    with pytest.raises(ConfigError, match="unknown key checker 'chemistry'"):
        get_checker("chemistry")


def test_generated_choices_with_their_own_letter_labels_are_detected():
    assert letter_labelled(["A. 18", "B. 24", "C. 6", "D. 0"])
    assert letter_labelled(["(C) 24", "(A) 6", "12", "0"])
    assert letter_labelled(["A", "D", "B", "C"])  # seen from the local model: labels instead of answers
    assert not letter_labelled(["(i) only", "(i) and (ii) only", "(ii) only", "all"])  # MMLU econometrics
    assert not letter_labelled(["A. Lincoln", "George Washington", "Grant", "Adams"])
