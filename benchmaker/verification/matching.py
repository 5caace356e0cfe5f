"""Which option is the program's answer.

Decisions for the ambiguous cases (tests/test_matching.py pins each one):

* Numbers. An option is a number when its text holds exactly one number; currency, units and words
  around it are ignored ("$1,234.50", "18 g", "x = 2"). Digits glued to a letter or after "^"/"**" belong
  to a unit or a name, not to the option's numbers ("cm^2", "m2", "CO2", "s^-1"); superscript digits
  ("m²") are never numbers of their own, only the exponent in "10³". "2^3" and "2³" are not numbers.
  A comma is a thousands separator only when exactly three digits follow ("1,234" is 1234); otherwise it
  separates numbers, so "1,2" and the decimal comma "3,5" are two numbers, never one. "-" is a sign only
  when it does not follow a word character ("2-3" is two numbers, "2024-03-31" is three).
* Tolerance: |v - x| <= max(rel_tol * max(|v|, |x|), half a unit in the option's last written place).
  Fractions ("3/4", "1 1/2", "½") and bare powers ("10^3") get no rounding allowance. "25%" reads as
  25 and as 0.25. When several options match, the one matching within rel_tol alone wins, if unique.
* Text: NFKC, casefold, whitespace collapsed, surrounding quotes/brackets/punctuation and a trailing
  period dropped. A text (or repr) answer holding exactly one number also takes the number route.
* Dates: an option is a date only if it names a month or has a y-m-d / d-m-y separator pattern. Numeric
  dates with the year last ("03/04/2024") are read the way the options themselves show (a first field
  above 12 means day-first, a second above 12 means month-first); when the options do not settle it, an
  option whose two readings differ is not read as a date. An option without a year matches any year.
* Sequences match an option holding the same numbers in the same order ("(2, 3)", "2 and 3",
  "x = 2, y = 3"). Order always matters: a set's items arrive sorted by repr, which the value does not
  mark, and a swapped pair is a classic distractor. Non-numeric items compare as normalised texts.
* Durations (seconds) match options made only of number + time-unit pairs ("90 minutes", "2 h 30 min");
  bare numbers, clock forms ("1:30") and words ("half an hour") are not matched, nor repaired.

How a missing value is written into the options: ``benchmaker.verification.repair``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal, NamedTuple

from dateutil import parser as date_parser
from pydantic import BaseModel, ConfigDict

from benchmaker.verification.values import ProgramValue


class OptionMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int | None
    matches: tuple[int, ...]
    how: Literal["number", "text", "date", "none", "ambiguous"]
    detail: str


_SUPERS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_FROM_SUPER = str.maketrans(_SUPERS + "⁻⁺−", "0123456789-+-")  # and the Unicode minus
_TAIL = rf"(?!\.?\d|\^|\*\*|[{_SUPERS}])"  # a number followed by more digits or a power is not this number
_MANTISSA = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(
    rf"""(?<![\w^.])(?<!\^[-+−])(?<!\*\*)(?<!\*\*[-+−])  # not glued to a word, not a unit's exponent
    (?P<sign>[-+−])?
    (?:(?:(?P<whole>\d+)\s+)?(?P<num>\d+)/(?P<den>\d+){_TAIL}          # 3/4, 1 1/2
    |(?P<vwhole>\d+)?(?P<vulgar>[¼½¾⅐-⅞])                          # ½, 1½
    |(?:(?P<mant>{_MANTISSA})\s*[×x*·]\s*)?10(?P<pow>\s*(?:\^|\*\*)\s*[-+−]?\d+|[⁻⁺]?[{_SUPERS}]+)(?!\d)
    |(?P<dec>{_MANTISSA})(?:[eE](?P<e>[-+−]?\d+))?{_TAIL}            # 1,234.5  1.2e3
    )(?P<pct>\s*(?:%|percent\b))?""",
    re.VERBOSE,
)
_STRIP = "\"'`“”‘’«»()[]{}<>,;:!?*_ "
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
_DMY = re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?!\d)")
_YMD = re.compile(r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_CLOCK = re.compile(r"(?<!\d)\d{1,2}(?::\d{2}|\s*[ap]\.?m\b)", re.IGNORECASE)
_DURATION = re.compile(
    r"(?<![\w.,])(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?)\b", re.I
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Two defaults that differ in every field: a field that comes back different was not in the option.
_DEFAULTS = (dt.datetime(2000, 1, 1), dt.datetime(2004, 2, 2))
_NUMERIC_KINDS = ("integer", "fraction", "decimal", "float")


class _Num(NamedTuple):
    value: Fraction
    half: Fraction  # half a unit in the last written place: the rounding the option's writer allowed
    percent: bool
    places: int | None  # decimals written; None for fraction forms
    match: re.Match[str]


def _token(m: re.Match[str]) -> _Num | None:
    sign = -1 if m["sign"] in ("-", "−") else 1
    if m["den"] or m["vulgar"]:
        if m["den"] and int(m["den"]) == 0:
            return None
        part = Fraction(int(m["num"]), int(m["den"])) if m["den"] else Fraction(unicodedata.numeric(m["vulgar"]))
        value = part.limit_denominator(10**9) + int(m["whole"] or m["vwhole"] or 0)
        return _Num(sign * value, Fraction(0), bool(m["pct"]), None, m)
    digits = (m["mant"] or m["dec"] or "1").replace(",", "")
    exponent = int(re.sub(r"[\s^*]", "", m["pow"] or m["e"] or "0").translate(_FROM_SUPER))
    if abs(exponent) > 400:  # a key never needs it; refusing keeps Fraction arithmetic small
        return None
    places = len(digits.partition(".")[2])
    scale = Fraction(10) ** exponent
    half = Fraction(0) if m["pow"] and not m["mant"] else Fraction(1, 2 * 10**places) * scale
    return _Num(sign * Fraction(digits) * scale, half, bool(m["pct"]), places, m)


def _numbers(text: str) -> list[_Num | None]:
    return [_token(m) for m in _NUMBER.finditer(text)]


def count_numbers(text: str) -> int:
    """How many numbers the text holds, read as options are ("2,500 m" 1, "1 1/2" 1, "3 x 10^4" 1, "(2, 3)" 2)."""
    return len(_numbers(text))


def _single(text: str) -> _Num | None:
    found = _numbers(text)
    return found[0] if len(found) == 1 else None


def _close(v: Fraction, x: Fraction, half: Fraction, rel_tol: Fraction) -> tuple[bool, bool]:
    """(matches, matches within rel_tol alone, i.e. without the option's rounding allowance)."""
    gap = abs(v - x)
    exact = gap <= rel_tol * max(abs(v), abs(x))
    return exact or gap <= half, exact


def _compare(v: Fraction, x: _Num, rel_tol: Fraction) -> tuple[bool, bool]:
    readings = [(x.value, x.half)] + ([(x.value / 100, x.half / 100)] if x.percent else [])
    results = [_close(v, value, half, rel_tol) for value, half in readings]
    return any(ok for ok, _ in results), any(exact for _, exact in results)


def _program_number(value: ProgramValue) -> Fraction | None:
    try:
        if value.kind in ("integer", "fraction"):
            return Fraction(value.text)
        if value.kind == "decimal":
            number = Decimal(value.text)
            return Fraction(number) if number.is_finite() and abs(number.adjusted()) < 400 else None
        if value.kind == "float":
            return Fraction(float(value.text)) if math.isfinite(float(value.text)) else None
    except (ValueError, ArithmeticError):
        return None
    found = _single(value.text) if value.kind in ("text", "other") else None
    return (found.value / 100 if found.percent else found.value) if found else None


def _norm(text: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return text.strip(_STRIP).removesuffix(".").strip(_STRIP)


def _leaves(value: ProgramValue) -> list[ProgramValue]:
    return [leaf for item in value.items for leaf in _leaves(item)] if value.kind == "sequence" else [value]


def _by_numbers(targets: list[Fraction], choices: list[str], rel_tol: Fraction) -> list[tuple[int, bool]]:
    found = []
    for index, choice in enumerate(choices):
        numbers = _numbers(choice)
        if len(numbers) == len(targets) and all(numbers):
            results = [_compare(v, x, rel_tol) for v, x in zip(targets, numbers, strict=True)]
            if all(ok for ok, _ in results):
                found.append((index, all(exact for _, exact in results)))
    return found


def _by_text(text: str, choices: list[str]) -> list[tuple[int, bool]]:
    return [(i, True) for i, choice in enumerate(choices) if _norm(text) and _norm(choice) == _norm(text)]


def _by_sequence(value: ProgramValue, choices: list[str], rel_tol: Fraction) -> tuple[list[tuple[int, bool]], str]:
    leaves = _leaves(value)
    numbers = [_program_number(leaf) if leaf.kind in _NUMERIC_KINDS else None for leaf in leaves]
    if leaves and all(number is not None for number in numbers):
        return _by_numbers(numbers, choices, rel_tol), "number"
    wanted = [_norm(item.text) for item in value.items]
    split = [[_norm(part) for part in re.split(r",|;|&|\band\b", _norm(c)) if _norm(part)] for c in choices]
    return [(i, True) for i, parts in enumerate(split) if wanted and parts == wanted], "text"


def _day_first(choices: list[str]) -> bool | None:
    """The options' own convention for d/m/y vs m/d/y, when any option shows it."""
    evidence = {int(m[1]) > 12 for c in choices for m in _DMY.finditer(c) if max(int(m[1]), int(m[2])) > 12}
    return evidence.pop() if len(evidence) == 1 else None


def _read_date(text: str, day_first: bool | None) -> tuple[dt.datetime, bool] | None:
    """The option's date and whether it gives the year; None when it is not (unambiguously) a date."""
    dmy = _DMY.search(text)
    if not (_MONTH.search(text) or dmy or _YMD.search(text)):
        return None  # keeps dateutil from reading "12" or "Sunday" as a date
    if dmy and day_first is None and int(dmy[1]) <= 12 and int(dmy[2]) <= 12 and int(dmy[1]) != int(dmy[2]):
        return None
    try:
        first, second = (date_parser.parse(text, dayfirst=bool(dmy and day_first), default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        return None
    if (first.month, first.day) != (second.month, second.day):
        return None  # "March 2024" names no day
    return first, first.year == second.year


def _read_clock(text: str) -> dt.time | None:
    if not _CLOCK.search(text) or _read_date(text, None):
        return None
    try:
        return date_parser.parse(text).time()
    except (ValueError, OverflowError):
        return None


def _by_date(value: ProgramValue, choices: list[str]) -> list[tuple[int, bool]]:
    if value.kind == "time":
        clock = dt.time.fromisoformat(value.text)
        return [(i, True) for i, c in enumerate(choices) if (read := _read_clock(c)) and _same_clock(read, clock)]
    when, day_first, found = dt.datetime.fromisoformat(value.text), _day_first(choices), []
    for i, choice in enumerate(choices):
        read = _read_date(choice, day_first)
        if (
            not read
            or (read[0].month, read[0].day) != (when.month, when.day)
            or (read[1] and read[0].year != when.year)
        ):
            continue
        # A datetime's time counts only when the option gives one; a date ignores an option's time.
        if value.kind != "datetime" or not _CLOCK.search(choice) or _same_clock(read[0].time(), when.time()):
            found.append((i, True))
    return found


def _same_clock(a: dt.time, b: dt.time) -> bool:
    return (a.hour, a.minute, a.second) == (b.hour, b.minute, b.second)


def _by_duration(seconds: Fraction, choices: list[str], rel_tol: Fraction) -> list[tuple[int, bool]]:
    found = []
    for index, choice in enumerate(choices):
        pairs = _DURATION.findall(choice)
        if not pairs or len(pairs) != len(_numbers(choice)):
            continue  # a bare or unit-less number: which unit it counts is unknown
        total = sum(Fraction(n) * _UNIT_SECONDS[unit[0].lower()] for n, unit in pairs)
        last, unit = pairs[-1]
        half = Fraction(_UNIT_SECONDS[unit[0].lower()], 2 * 10 ** len(last.partition(".")[2]))
        ok, exact = _close(seconds, total, half, rel_tol)
        if ok:
            found.append((index, exact))
    return found


class _Unmatchable(Exception):
    """The value itself cannot be compared (nan, an empty sequence): the reason becomes the detail."""


def _find(value: ProgramValue, choices: list[str], rel_tol: Fraction) -> tuple[list[tuple[int, bool]], str]:
    """[(option index, matched within rel_tol alone)], and how they were compared."""
    kind, number = value.kind, _program_number(value)
    if kind in _NUMERIC_KINDS:
        if number is None:
            raise _Unmatchable(f"{value.text!r} is not a finite number")
        return _by_numbers([number], choices, rel_tol), "number"
    if kind == "boolean":
        truth = {"true": "True", "yes": "True", "false": "False", "no": "False"}
        return [(i, True) for i, c in enumerate(choices) if truth.get(_norm(c)) == value.text], "text"
    if kind in ("date", "datetime", "time"):
        return _by_date(value, choices), "date"
    if kind == "duration":
        if not math.isfinite(seconds := float(value.text)):
            raise _Unmatchable(f"{value.text!r} seconds is not a finite duration")
        return _by_duration(Fraction(seconds), choices, rel_tol), "number"
    if kind == "sequence":
        if not value.items:
            raise _Unmatchable("the program gave an empty sequence")
        return _by_sequence(value, choices, rel_tol)
    found = _by_text(value.text, choices)  # text and other
    if not found and number is not None:
        return _by_numbers([number], choices, rel_tol), "number"
    return found, "text"


def _label(index: int, choices: list[str]) -> str:
    letter = chr(ord("A") + index) if index < 26 else str(index + 1)
    return f"{letter} {choices[index][:60]!r}"


def match_option(value: ProgramValue, choices: Sequence[str], *, rel_tol: float = 1e-6) -> OptionMatch:
    """The option equal to the program's value; never raises (an odd input gives how "none")."""
    shown, texts = value.text[:60], [str(choice) for choice in choices]
    reason = ""
    try:
        found, how = _find(value, texts, Fraction(rel_tol))
    except _Unmatchable as error:
        found, how, reason = [], "none", str(error)
    except Exception as error:  # noqa: BLE001 - options and values are generated text; a miss must not crash a run
        found, how, reason = [], "none", f"cannot compare {shown!r}: {type(error).__name__}"
    exact = [index for index, is_exact in found if is_exact]
    if len(found) > 1 and len(exact) == 1:
        found = [(exact[0], True)]  # "79.4" beats "79" for 79.4: rounding allowance yields to an exact match
    indices = tuple(index for index, _ in found)
    if len(indices) == 1:
        detail = f"{shown} = option {_label(indices[0], texts)}"
    elif indices:
        how, detail = "ambiguous", f"{shown} matches options {', '.join(_label(i, texts) for i in indices)}"
    else:
        how, detail = "none", reason or f"no option equals {shown} (options: {', '.join(t[:40] for t in texts)})"
    return OptionMatch(index=indices[0] if len(indices) == 1 else None, matches=indices, how=how, detail=detail)


def values_agree(a: ProgramValue, b: ProgramValue, *, rel_tol: float = 1e-6) -> bool:
    """Whether two programs computed the same value: numbers within ``rel_tol`` of each other (no rounding
    allowance: both are full-precision results), anything else by its normalised canonical text."""
    try:
        x, y = _program_number(a), _program_number(b)
        if x is not None and y is not None and (a.kind in _NUMERIC_KINDS or b.kind in _NUMERIC_KINDS):
            return abs(x - y) <= Fraction(rel_tol) * max(abs(x), abs(y))
        if a.kind == "sequence" and b.kind == "sequence":
            return len(a.items) == len(b.items) and all(
                values_agree(p, q, rel_tol=rel_tol) for p, q in zip(a.items, b.items, strict=True)
            )
        return _norm(a.text) == _norm(b.text)
    except Exception:  # noqa: BLE001 - generated values; a comparison that fails is a disagreement
        return False


def states_value(text: str, value: ProgramValue, *, rel_tol: float = 1e-6) -> bool:
    """Whether a written answer ("18 mol", "1/4", "March 3, 2025") states ``value``, read as an option."""
    return bool(text.strip()) and match_option(value, [text], rel_tol=rel_tol).index == 0
