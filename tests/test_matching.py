"""Matching a program's computed value to an option, and repairing the options when none matches."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import ValidationError

from benchmaker.verification.matching import OptionMatch, match_option
from benchmaker.verification.repair import Repair, repair_options
from benchmaker.verification.values import ProgramValue, encode

PI4 = 4 * 3.141592653589793  # 12.566370614359172


def matched(value, choices, **kwargs):
    value = value if isinstance(value, ProgramValue) else encode(value)
    result = match_option(value, choices, **kwargs)
    return result.index, result.how


@pytest.mark.parametrize(
    ("value", "option", "equal"),
    [
        # plain numbers and the rounding allowance of the option's last written place
        (79, "79", True),
        (79.4, "79", True),
        (78.5, "79", True),
        (79.6, "79", False),
        (PI4, "12.57", True),
        (PI4, "12.6", True),
        (PI4, "12.5", False),
        (0.1 + 0.2, "0.3", True),
        (Decimal("2.50"), "2.5", True),
        (10**30, "1e30", True),
        # signs: ASCII and Unicode minus; "-" after a word character is not a sign
        (-5, "-5", True),
        (-5, "−5", True),
        (5, "−5", False),
        (-3, "x = −3", True),
        # thousands separators; a comma not followed by exactly three digits separates two numbers
        (1234, "1,234", True),
        (1234567.5, "1,234,567.5", True),
        (1234.5, "$1,234.50", True),
        (12, "1,2", False),
        (1.2, "1,2", False),
        (3.5, "3,5", False),
        # fractions, mixed numbers, vulgar fractions: exact up to rel_tol, no rounding allowance
        (0.75, "3/4", True),
        (Fraction(3, 4), "3/4", True),
        (0.76, "3/4", False),
        (0.333333333, "1/3", True),
        (0.3333, "1/3", False),
        (1.5, "1 1/2", True),
        (0.5, "½", True),
        (1.5, "1½", True),
        (-0.75, "−3/4", True),
        # percentages read both as the number and as a proportion
        (25, "25%", True),
        (0.25, "25%", True),
        (0.3, "25%", False),
        (Decimal("0.125"), "12.5 percent", True),
        # scientific notation; a bare power of ten is exact
        (1200, "1.2e3", True),
        (1234, "1.2 × 10^3", True),
        (1234, "1.2 x 10^3", True),
        (1234, "1.2×10³", True),
        (1260, "1.2×10³", False),
        (0.00034, "3.4 × 10⁻⁴", True),
        (0.0025, "2.5 × 10^−3", True),
        (-1200, "−1.2e3", True),
        (1000, "10^3", True),
        (1001, "10^3", False),
        (0.001, "10⁻³", True),
        # units and currency around one number; a unit's exponent is not a second number
        (18, "18 g", True),
        (3, "3 hours", True),
        (12.5, "12.5 cm^2", True),
        (12.5, "12.5 m²", True),
        (12.5, "12.5 m2", True),
        (2, "12.5 cm^2", False),
        (9.8, "9.8 m/s^2", True),
        (0.5, "0.5 s^-1", True),
        (2, "x = 2", True),
        # several numbers, or a power, is not one number
        (3, "3 and 4", False),
        (2, "(2, 3)", False),
        (2, "2 h 30 min", False),
        (2, "2-3", False),
        (2024, "2024-03-31", False),
        (8, "2^3", False),
        (2, "2³", False),
        (3.4, "3.4.5", False),
    ],
)
def test_one_numeric_option(value, option, equal):
    assert matched(value, [option]) == ((0, "number") if equal else (None, "none"))


@pytest.mark.parametrize(
    ("value", "choices", "index", "how", "matches"),
    [
        (79, ["81", "76", "79", "90"], 2, "number", (2,)),
        (79.4, ["79", "79.4"], 1, "number", (1,)),  # the exact one beats the rounding allowance
        (79.2, ["79", "79.0"], 0, "number", (0,)),  # "79.0" allows only 79 ± 0.05
        (79, ["79", "79"], None, "ambiguous", (0, 1)),
        (79, ["79", "79.0", "80"], None, "ambiguous", (0, 1)),
        (PI4, ["12.57", "12.6"], None, "ambiguous", (0, 1)),  # both by rounding only
        (Fraction(3, 4), ["3/4", "0.75"], None, "ambiguous", (0, 1)),
        (0.25, ["25%", "0.25"], None, "ambiguous", (0, 1)),
        (2, ["(2, 3)", "2"], 1, "number", (1,)),
        (3, ["3 and 4", "three"], None, "none", ()),  # word numbers are not read
        (True, ["1", "0"], None, "none", ()),  # a boolean is not a number
    ],
)
def test_choosing_among_options(value, choices, index, how, matches):
    result = match_option(encode(value), choices)
    assert (result.index, result.how, result.matches) == (index, how, matches)


def test_rel_tol_is_the_exact_tolerance():
    assert matched(0.3334, ["1/3"]) == (None, "none")
    assert matched(0.3334, ["1/3"], rel_tol=1e-3) == (0, "number")


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        ("Paris", ['"Paris."', "London"], (0, "text")),
        ("New York", ["new   york", "York"], (0, "text")),
        ("ﬁne", ["fine", "file"], (0, "text")),  # NFKC folds the ligature
        ("Straße", ["STRASSE", "Strase"], (0, "text")),  # casefold
        ("(a)", ["A.", "B."], (0, "text")),
        ("Paris", ["Paris, France", "Paris is"], (None, "none")),
        ("-5", ["5", "6"], (None, "none")),  # the sign is not punctuation
        ("79", ["79 g", "80 g"], (0, "number")),  # a number-looking text takes the number route
        ("0.5", ["1/2", "1/3"], (0, "number")),
        ("", ["", "a"], (None, "none")),
        (ProgramValue(kind="other", text="np.int64(5)"), ["5", "6"], (0, "number")),
        (ProgramValue(kind="other", text="Point(x=1)"), ["point(x=1)", "1"], (0, "text")),
    ],
)
def test_text_values(value, choices, expected):
    assert matched(value, choices) == expected


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        (True, ["Yes", "No"], (0, "text")),
        (False, ["True", "False"], (1, "text")),
        (True, ["true.", "false."], (0, "text")),
        (False, ["yes", "no"], (1, "text")),
        (True, ["Yes", "True"], (None, "ambiguous")),
        (True, ["Maybe", "Never"], (None, "none")),
    ],
)
def test_booleans(value, choices, expected):
    assert matched(value, choices) == expected


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        (dt.date(2024, 3, 31), ["March 31, 2024", "March 30, 2024"], (0, "date")),
        (dt.date(2024, 3, 31), ["2024-03-30", "2024-03-31"], (1, "date")),
        (dt.date(2024, 3, 31), ["31 Mar 2024", "1 Apr 2024"], (0, "date")),
        (dt.date(2024, 3, 31), ["Sunday, March 31, 2024", "Monday, April 1, 2024"], (0, "date")),
        (dt.date(2024, 3, 31), ["31/03/2024", "30/03/2024"], (0, "date")),  # 31 cannot be a month
        (dt.date(2024, 3, 31), ["03/31/2024", "03/30/2024"], (0, "date")),
        (dt.date(2024, 3, 31), ["31.03.2024", "30.03.2024"], (0, "date")),
        (dt.date(2024, 3, 31), ["March 31", "March 30"], (0, "date")),  # no year: any year
        (dt.date(2024, 3, 31), ["March 31, 2023", "March 31, 2024"], (1, "date")),
        (dt.date(2024, 3, 31), ["March 31, 2024", "2024-03-31"], (None, "ambiguous")),
        (dt.date(2024, 3, 31), ["March 2024", "April 2024"], (None, "none")),  # no day
        (dt.date(2024, 3, 31), ["Sunday", "Monday"], (None, "none")),  # weekdays are text
        (dt.date(2024, 3, 31), ["31", "12"], (None, "none")),  # bare numbers are not dates
        # "03/04/2024": the options' own convention decides; unsettled means not read as a date
        (dt.date(2024, 3, 4), ["03/04/2024", "04/03/2024"], (None, "none")),
        (dt.date(2024, 3, 4), ["03/04/2024", "03/13/2024"], (0, "date")),  # month-first shown
        (dt.date(2024, 4, 3), ["03/04/2024", "13/04/2024"], (0, "date")),  # day-first shown
        (dt.date(2024, 3, 4), ["03/04/2024", "13/04/2024"], (None, "none")),
        (dt.date(2024, 3, 3), ["03/03/2024", "04/04/2024"], (0, "date")),  # both readings agree
        (dt.datetime(2024, 3, 31, 10, 0), ["March 31, 2024 10:00 AM", "March 31, 2024 11:00 AM"], (0, "date")),
        (dt.datetime(2024, 3, 31, 10, 0), ["March 31, 2024", "April 1, 2024"], (0, "date")),  # no time given
        (dt.time(15, 45), ["3:45 pm", "3:15 pm"], (0, "date")),
        (dt.time(15, 45), ["16:45", "15:45"], (1, "date")),
        (dt.time(15, 45), ["15", "45"], (None, "none")),
    ],
)
def test_dates_and_times(value, choices, expected):
    assert matched(value, choices) == expected


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        ((2, 3), ["(2, 3)", "(3, 2)"], (0, "number")),
        ([2, 3], ["3 and 4", "2 and 3"], (1, "number")),
        ((2, 3), ["x = 3, y = 2", "x = 2, y = 3"], (1, "number")),
        ((2, 3), ["(3, 2)", "(2, 4)"], (None, "none")),  # order matters
        ({9, 10}, ["9 and 10", "8 and 9"], (None, "none")),  # a set arrives repr-sorted [10, 9]: not matched
        ([0.5, 1.25], ["0.5, 1.3", "0.5, 1.25"], (1, "number")),  # exact beats rounding, item by item
        ([(1, 2), (3, 4)], ["(1, 2), (3, 4)", "(1, 3), (2, 4)"], (0, "number")),
        ([2], ["2", "3"], (0, "number")),
        (["Alice", "Bob"], ["Bob and Alice", "Alice and Bob"], (1, "text")),
        (["red", "green"], ["(red, green)", "red"], (0, "text")),
        ([], ["", "none"], (None, "none")),
    ],
)
def test_sequences(value, choices, expected):
    assert matched(value, choices) == expected


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        (dt.timedelta(minutes=90), ["45 minutes", "90 minutes", "2 hours"], (1, "number")),
        (dt.timedelta(minutes=90), ["1 h 30 min", "2 h 30 min"], (0, "number")),
        (dt.timedelta(minutes=90), ["1.5 hours", "2.5 hours"], (0, "number")),
        (dt.timedelta(seconds=45), ["45 s", "45 min"], (0, "number")),
        (dt.timedelta(minutes=90), ["90", "5400"], (None, "none")),  # unit unknown
        (dt.timedelta(minutes=90), ["1:30", "2:30"], (None, "none")),  # clock form not read
    ],
)
def test_durations(value, choices, expected):
    assert matched(value, choices) == expected


@pytest.mark.parametrize(
    "value",
    [
        encode(float("nan")),
        encode(float("inf")),
        ProgramValue(kind="decimal", text="NaN"),
        ProgramValue(kind="decimal", text="1E+999999999"),
        ProgramValue(kind="integer", text="<too large>"),
        ProgramValue(kind="date", text="not a date"),
        ProgramValue(kind="time", text="25:99"),
        ProgramValue(kind="duration", text="inf"),
        ProgramValue(kind="sequence", text=""),
    ],
)
@pytest.mark.parametrize("choices", [[], ["1", "nan", "1/0", "1e999999", "10^99999", "x" * 5000, "2024-99-99"]])
def test_odd_inputs_give_none_and_never_raise(value, choices):
    result = match_option(value, choices)
    assert (result.index, result.how, result.matches) == (None, "none", ())
    assert result.detail


def test_details_say_what_matched():
    assert match_option(encode(79), ["81", "76", "79", "90"]).detail == "79 = option C '79'"
    assert match_option(encode(79), ["81", "76", "85", "90"]).detail == "no option equals 79 (options: 81, 76, 85, 90)"
    assert match_option(encode(79), ["79", "80", "79"]).detail == "79 matches options A '79', C '79'"
    assert match_option(encode(float("nan")), ["1"]).detail == "'nan' is not a finite number"


def test_results_are_frozen_and_strict():
    result = match_option(encode(1), ["1"])
    with pytest.raises(ValidationError):
        OptionMatch(index=0, matches=(0,), how="number", detail="", extra=1)
    with pytest.raises(ValidationError):
        result.index = 1
    with pytest.raises(ValidationError):
        Repair(choices=("a",), answer_index=0, replaced_index=0, replaced_text="a", new_text="a", extra=1)


@pytest.mark.parametrize(
    ("value", "choices", "key", "repaired"),
    [
        (16, ["18 g", "20 g", "22 g", "24 g"], 0, ["18 g", "20 g", "22 g", "16 g"]),  # unit kept, farthest goes
        (16, ["18 g", "20 g", "22 g", "24 g"], 3, ["18 g", "20 g", "16 g", "24 g"]),  # never the key
        (1.25, ["1.5 kg", "2.0 kg", "3.5 kg"], 0, ["1.5 kg", "2.0 kg", "1.25 kg"]),  # exact, never rounded to 1.3
        (31.25, ["30", "20", "35.1", "12.5"], 2, ["30", "20", "35.1", "31.25"]),  # the local model's case
        (Fraction(4, 3), ["1.5 kg", "2.0 kg", "3.5 kg"], 0, ["1.5 kg", "2.0 kg", "1.3 kg"]),  # no short exact form
        (63.36999999999999, ["68.97", "53.37", "12.5"], 0, ["68.97", "53.37", "63.37"]),  # float noise, rounded
        (4, ["1.5", "2.5", "3.5", "9.5"], 0, ["1.5", "2.5", "3.5", "4.0"]),  # no bare "4" among "x.5"s
        (12.5, ["$10.00", "$15.00", "$20.00"], 0, ["$10.00", "$15.00", "$12.50"]),
        (1234, ["1,000", "2,500", "3,000"], 1, ["1,000", "2,500", "1,234"]),
        (0.3, ["25%", "50%", "75%"], 0, ["25%", "50%", "30%"]),  # a proportion among percentages
        (-7, ["−3", "−5", "4"], 0, ["−3", "−5", "−7"]),
        (1500, ["1.2 × 10^3", "2.4 × 10^3", "3.6 × 10^3"], 0, ["1.2 × 10^3", "2.4 × 10^3", "1.5 × 10^3"]),
        (1500, ["1.2×10³", "2.4×10³", "3.6×10³"], 0, ["1.2×10³", "2.4×10³", "1.5×10³"]),
        (0.00015, ["1.2e-3", "3.4e-3", "5.6e-3"], 0, ["1.2e-3", "3.4e-3", "1.5e-4"]),
        (0.00015, ["1.2 × 10^−3", "3.4 × 10^−3"], 0, ["1.2 × 10^−3", "1.5 × 10^−4"]),
        (99600, ["1.2e4", "3.4e4", "5.6e4"], 0, ["1.2e4", "1.0e5", "5.6e4"]),  # 9.96 rounds up a power
        (Fraction(5, 4), ["1/2", "3/4", "2/3"], 0, ["1/2", "3/4", "5/4"]),
        (1.25, ["1 1/2", "2 3/4", "1 2/3"], 0, ["1 1/2", "1 1/4", "1 2/3"]),
        (7, ["8", "None of these"], 0, ["8", "7"]),  # no numeric distractor: the last non-key one
        ("Madrid", ["Paris", "London", "Rome"], 0, ["Paris", "London", "Madrid"]),
        (True, ["False", "Maybe"], 0, ["False", "True"]),
        (dt.date(2024, 4, 1), ["March 31, 2024", "April 2, 2024"], 0, ["March 31, 2024", "April 1, 2024"]),
        (dt.date(2024, 4, 1), ["2024-03-31", "2024-03-30"], 0, ["2024-03-31", "2024-04-01"]),
        ((2, 3), ["(2, 4)", "(3, 2)", "(4, 5)"], 0, ["(2, 4)", "(3, 2)", "(2, 3)"]),
    ],
)
def test_repair_round_trips(value, choices, key, repaired):
    value = encode(value)
    assert match_option(value, choices).how == "none"
    repair = repair_options(value, choices, key)
    assert repair is not None
    assert list(repair.choices) == repaired
    assert repair.choices[key] == choices[key]
    changed = [i for i, (old, new) in enumerate(zip(choices, repair.choices, strict=True)) if old != new]
    assert changed == [repair.replaced_index] == [repair.answer_index]
    assert (repair.replaced_text, repair.new_text) == (choices[changed[0]], repaired[changed[0]])
    assert match_option(value, repair.choices).index == repair.answer_index


@pytest.mark.parametrize(
    ("value", "choices", "key"),
    [
        (encode(18), ["18 g", "20 g"], 1),  # already matches
        (encode(79), ["79", "79"], 0),  # ambiguous: not for repair
        (encode(5), ["4"], 0),  # only the key
        (encode(5), ["1", "2"], 7),  # no such key
        (encode(dt.timedelta(hours=3)), ["90 minutes", "2 h"], 0),  # durations are not written
        (encode(float("nan")), ["1", "NaN"], 0),  # "nan" would collide with "NaN"
        (encode(float("nan")), ["1", "2"], 0),  # "nan" does not read back as the value
        (encode(Fraction(1, 100_003)), ["1/2", "1/3", "1/4"], 0),  # no small fraction equals it
        (encode("?!"), ["a", "b"], 0),  # nothing left after normalising
        (ProgramValue(kind="date", text="garbage"), ["a", "b"], 0),
    ],
)
def test_repair_refuses(value, choices, key):
    assert repair_options(value, choices, key) is None


def test_repair_uses_the_callers_tolerance():
    value, choices = encode(Fraction(3, 10_001)), ["1/2", "1/3", "1/4"]
    assert repair_options(value, choices, 0) is None  # no fraction with denominator <= 10,000 within 1e-6
    loose = repair_options(value, choices, 0, rel_tol=1e-3)
    assert loose is not None and loose.new_text == "2/6667"  # the nearest with denominator <= 10,000
    near = encode(Fraction(26, 100))
    assert repair_options(near, choices, 0) is not None
    assert repair_options(near, choices, 0, rel_tol=0.1) is None  # "1/4" matches at 10%: nothing to repair
