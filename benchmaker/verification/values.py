"""How a program's answer travels from the sandbox to the matcher: a small tagged, JSON-safe value.

The child process encodes whatever the program left in ``answer``; the parent only ever sees this
model, never a live object from untrusted code.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal[
    "integer",
    "fraction",
    "decimal",
    "float",
    "boolean",
    "text",
    "date",
    "datetime",
    "time",
    "duration",
    "sequence",
    "other",
]
MAX_TEXT = 2_000
"""Longest canonical text kept for one value; longer ones are cut (a key never needs more)."""
MAX_ITEMS = 50


class ProgramValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    text: str = Field(max_length=MAX_TEXT + 20)
    """Canonical text: "123", "3/4", "1.50", repr of a float, "True", ISO date/time, a duration in
    seconds, the items' texts joined by ", ", or repr for anything else."""
    items: tuple[ProgramValue, ...] = ()
    """The elements of a sequence (list, tuple, set in sorted order)."""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…[cut]"


def encode(value: Any, depth: int = 0) -> ProgramValue:
    """Tag a Python value. Never raises for ordinary values; odd ones become ``other`` with repr."""
    if isinstance(value, bool):
        return ProgramValue(kind="boolean", text=str(value))
    if isinstance(value, int):
        # Python refuses str() of ints above 4,300 digits (about 14,000 bits): no key is that long.
        return ProgramValue(kind="integer", text=_cut(str(value)) if value.bit_length() < 14_000 else "<too large>")
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return encode(value.numerator, depth)
        return ProgramValue(kind="fraction", text=_cut(f"{value.numerator}/{value.denominator}"))
    if isinstance(value, Decimal):
        return ProgramValue(kind="decimal", text=_cut(str(value)))
    if isinstance(value, float):
        return ProgramValue(kind="float", text=repr(value) if math.isfinite(value) else str(value))
    if isinstance(value, str):
        return ProgramValue(kind="text", text=_cut(value))
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        return ProgramValue(kind="datetime", text=value.isoformat())
    if isinstance(value, dt.date):
        return ProgramValue(kind="date", text=value.isoformat())
    if isinstance(value, dt.time):
        return ProgramValue(kind="time", text=value.isoformat())
    if isinstance(value, dt.timedelta):
        return ProgramValue(kind="duration", text=repr(value.total_seconds()))
    if isinstance(value, list | tuple | set | frozenset) and depth < 3:
        elements = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        items = tuple(encode(element, depth + 1) for element in elements[:MAX_ITEMS])
        return ProgramValue(kind="sequence", text=_cut(", ".join(item.text for item in items)), items=items)
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - untrusted __repr__
        text = f"<unrepresentable: {type(error).__name__}>"
    return ProgramValue(kind="other", text=_cut(text))
