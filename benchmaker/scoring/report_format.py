"""Number and text formatting shared by the report's tables and plots."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape


def finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def fmt(value: Any) -> str:
    """A number as an analyst reads it: three decimals below 10, fewer above, '—' for nothing."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if isinstance(value, int) or (a >= 1000 and v.is_integer()):
        return f"{int(v):,}"
    if 0 < a < 0.001:
        return f"{v:.2e}"
    if a < 10:
        return f"{v:.3f}"
    if a < 1000:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def soft_breaks(name: str) -> Markup:
    """An identifier like ``answer_position_balance`` that may wrap after its underscores (escaped)."""
    return Markup("_<wbr>").join(escape(part) for part in str(name).split("_"))


def fmt_label(value: float | None) -> str:
    """A difficulty label: '3' for a whole number, else like any other number."""
    if finite(value) and float(value).is_integer():
        return str(int(value))
    return fmt(value)


def fmt_ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"[{fmt(low)}, {fmt(high)}]"


def truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
