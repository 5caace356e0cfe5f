"""How to put the computed value among the options when none holds it (``repair_options``).

Decisions (tests/test_matching.py pins each one):

* Repair writes a number with the most decimals any plain option uses, rounded half away from zero, but
  never fewer than a short exact value needs (31.25 among "30.5"-style options is "31.25": a rounded key is
  a value nothing computed; a value needing more than 6 decimals is rounded), with thousands commas and "−"
  if the options use them; the replaced option's prefix and suffix ("$", " g",
  "%") stay. Scientific options keep their mantissa decimals and exponent style; fraction options get
  "a/b" (denominator at most 10,000, mixed if the options are) or nothing when no such fraction equals
  the value. A proportion (|v| <= 1) among percentages above 1 is written as a percentage. Dates are
  written "April 1, 2024" when the options name months, else ISO; other values as their text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from benchmaker.verification.matching import (
    _MONTH,
    _SUPERS,
    _norm,
    _Num,
    _program_number,
    _single,
    match_option,
)
from benchmaker.verification.values import ProgramValue


class Repair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: tuple[str, ...]
    answer_index: int
    replaced_index: int
    replaced_text: str
    new_text: str


_TO_SUPER = str.maketrans("0123456789-", _SUPERS + "⁻")


def _fixed(v: Fraction, places: int, commas: bool) -> str:
    """v rounded half away from zero (as taught in school) to ``places`` decimals, exactly: no float."""
    scaled = math.floor(abs(v) * 10**places + Fraction(1, 2))
    digits = str(scaled).rjust(places + 1, "0")
    whole, tail = digits[: len(digits) - places], digits[len(digits) - places :]
    sign = "-" if v < 0 and scaled else ""
    return sign + (f"{int(whole):,}" if commas else whole) + (f".{tail}" if places else "")


MAX_EXACT_PLACES = 6
"""A value with up to this many decimals (its shortest float form) is written exactly; a longer one
(1/3, or 63.36999999999999 from float arithmetic) is rounded to the options' decimals."""


def _write_number(v: Fraction, target: _Num, numbers: list[_Num], text: str, rel_tol: Fraction) -> str | None:
    """v in the options' style, in place of the target's number; the text around it (unit, "$", "%") stays."""
    m = target.match
    start, end = m.start(), (m.start("pct") if m["pct"] else m.end())
    power = "e" if m["e"] else "pow" if m["pow"] and m["mant"] else None
    if any(n.places is None for n in numbers):  # fraction options: a fraction, mixed if the options are
        f = v.limit_denominator(10_000)
        if abs(f - v) > abs(v) * rel_tol:
            return None  # no small fraction equals it; "0" would pass only by an integer's rounding allowance
        whole, rest = divmod(abs(f.numerator), f.denominator)
        mixed = whole and rest and any(n.match["whole"] for n in numbers)
        written = f"{'-' if f < 0 else ''}{whole} {rest}/{f.denominator}" if mixed else str(f)
    elif power:  # scientific: the target's mantissa decimals and exponent style
        exponent = math.floor(math.log10(abs(float(v)))) if v else 0
        mantissa = _fixed(v / Fraction(10) ** exponent, target.places or 0, False)
        if mantissa.lstrip("-").startswith("10"):  # 9.96 rounded up to 10.0: one more power of ten
            exponent += 1
            mantissa = _fixed(v / Fraction(10) ** exponent, target.places or 0, False)
        old = m[power]
        new = str(exponent).translate(_TO_SUPER) if old[-1] in _SUPERS else re.sub(r"[-+−]?\d+", str(exponent), old)
        mant = "mant" if power == "pow" else "dec"
        written = mantissa + text[m.end(mant) : m.start(power)] + new
    else:  # the most decimals any plain option uses, so the new option does not stand out, but never fewer
        # than the value needs when it is a short exact decimal: 31.25 among "30.5"s is "31.25", not "31.3",
        # a value nothing computed (seen on the local model, 2026-11-30)
        places = max((n.places for n in numbers if n.places is not None and not n.match["e"]), default=0)
        exact = -min(0, Decimal(repr(float(v))).normalize().as_tuple().exponent)
        places = max(places, exact) if exact <= MAX_EXACT_PLACES else places
        written = _fixed(v, places, any("," in (n.match["dec"] or "") for n in numbers))
    minus = "−" if any("−" in n.match.string for n in numbers) else "-"  # the options' own minus sign
    return text[:start] + written.replace("-", minus) + text[end:]


def _write_text(value: ProgramValue, choices: list[str], target: int) -> str | None:
    if value.kind == "duration":
        return None  # seconds would stand out among "90 minutes"-style options; left to a person
    if value.kind == "float":
        return format(float(value.text), ".6g")
    if value.kind == "date" and any(_MONTH.search(c) for c in choices):
        day = dt.date.fromisoformat(value.text)
        return f"{day:%B} {day.day}, {day.year}"
    if value.kind == "sequence" and choices[target].startswith("(") and choices[target].endswith(")"):
        return f"({value.text})"
    return value.text


def _rewrite(value: ProgramValue, choices: list[str], others: list[int], rel_tol: Fraction) -> tuple[int, str | None]:
    number = _program_number(value)
    singles = [_single(choice) for choice in choices]
    numbers = [n for n in singles if n]
    if number is not None:
        # Percent options written "25%" get 0.3 as "30%"; a distance to them is measured the same way.
        percents = [n for n in numbers if n.percent]
        if percents and abs(number) <= 1 and all(abs(n.value) > 1 for n in percents):
            number *= 100
        distances = [(abs(n.value - number), i) for i in others if (n := singles[i])]
        if distances:
            target = max(distances)[1]  # the farthest distractor: the least plausible one goes
            return target, _write_number(number, singles[target], numbers, choices[target], rel_tol)
    return others[-1], _write_text(value, choices, others[-1])


def repair_options(
    value: ProgramValue,
    choices: Sequence[str],
    answer_index: int,
    *,
    rel_tol: float = 1e-6,
    keep: Sequence[int] = (),
) -> Repair | None:
    """Put the computed value in place of one distractor (never the keyed option, nor an option in ``keep``),
    or None when it can't be written so that it, and only it, matches. Pass match_option's rel_tol, if not
    the default."""
    texts = [str(choice) for choice in choices]
    others = [i for i in range(len(texts)) if i != answer_index and i not in keep]
    if not others or not 0 <= answer_index < len(texts) or match_option(value, texts, rel_tol=rel_tol).how != "none":
        return None
    try:
        target, new_text = _rewrite(value, texts, others, Fraction(rel_tol))
    except Exception:  # noqa: BLE001 - as in match_option: an odd value means no repair, not a crash
        return None
    if new_text is None or _norm(new_text) in {_norm(text) for text in texts}:
        return None  # would collide with an option already there
    repaired = [*texts[:target], new_text, *texts[target + 1 :]]
    if match_option(value, repaired, rel_tol=rel_tol).index != target:
        return None  # the new option must read back as the value, and be the only option that does
    return Repair(
        choices=tuple(repaired),
        answer_index=target,
        replaced_index=target,
        replaced_text=texts[target],
        new_text=new_text,
    )
