"""Independent key checkers: compute the answer of a question by program and compare it with its key.

Used to measure how many keys a generation method gets right on a domain where answers can be
computed, without trusting any model. A question the checker cannot read is ``unchecked``, never
guessed. The arithmetic checker reads one integer expression (+, -, *, /, parentheses, x and ÷
signs) from the question and evaluates it with Python's ``ast`` (no ``eval``).
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from benchmaker.errors import ConfigError

Status = Literal["correct", "wrong", "unchecked"]

# Runs of digits, operators, parentheses and spaces; the longest one with an operator is the expression.
_EXPRESSION = re.compile(r"[\d(][\d\s+\-*/×÷().]*[\d)]")
# "3 x 4" is a product, "2x + 3" is algebra: x counts as a sign only between numbers.
_TIMES_X = re.compile(r"(?<=[\d)])\s*x\s*(?=[\d(])")
_NUMBER = re.compile(r"^\s*[-−]?\d+(?:\.\d+)?\s*$")
# A fraction answer: "19/12", "-1/4", a mixed number "1 7/12".
_FRACTION = re.compile(r"^\s*(?P<sign>[-−])?\s*(?:(?P<whole>\d+)\s+)?(?P<num>\d+)\s*/\s*(?P<den>[1-9]\d*)\s*$")
_OPERATORS: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class KeyCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Status
    computed: str | None = None
    """The value the program computed, when it computed one."""
    detail: str = ""


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    raise ValueError(f"unsupported syntax {type(node).__name__}")


def evaluate_expression(text: str) -> Fraction:
    """Exact value of an arithmetic expression. Raises ValueError (also for division by zero)."""
    source = text.replace("×", "*").replace("÷", "/")
    try:
        return _evaluate(ast.parse(source, mode="eval"))
    except (SyntaxError, ZeroDivisionError) as error:
        raise ValueError(str(error)) from None


_WORDS = [
    (re.compile(r"\s+(?:multiplied by|times)\s+", re.I), " * "),
    (re.compile(r"\s+divided by\s+", re.I), " / "),
    (re.compile(r"\s+plus\s+", re.I), " + "),
    (re.compile(r"\s+minus\s+", re.I), " - "),
]


def _normalise(question: str) -> str:
    """Operator words and an "x" between numbers become signs."""
    for pattern, sign in _WORDS:
        question = pattern.sub(sign, question)
    return _TIMES_X.sub(" * ", question)


def find_expression(question: str) -> str | None:
    """The longest digit-and-operator run that contains an operator between numbers.

    None for an equation (a question with "="): its unknown is not the value of an expression.
    """
    if "=" in question:
        return None
    runs = [m.group(0).strip() for m in _EXPRESSION.finditer(_normalise(question))]
    runs = [r for r in runs if re.search(r"[\d)]\s*[+\-*/×÷]\s*[\d(]", r)]
    return max(runs, key=len) if runs else None


def _number(text: str) -> Fraction | None:
    """A choice that is one number, decimal or fraction (mixed numbers too); None for anything else."""
    cleaned = text.replace("−", "-").replace(",", "")
    if _NUMBER.match(cleaned):
        return Fraction(cleaned.strip())
    fraction = _FRACTION.match(cleaned)
    if fraction is None:
        return None
    value = int(fraction["whole"] or 0) + Fraction(int(fraction["num"]), int(fraction["den"]))
    return -value if fraction["sign"] else value


def check_arithmetic(question: str, choices: list[str], answer_index: int) -> KeyCheck:
    expression = find_expression(question)
    if expression is None:
        return KeyCheck(status="unchecked", detail="no arithmetic expression in the question")
    if re.search(r"\d", _normalise(question).replace(expression, " ", 1)):
        # "the sum of 12 and (3 * 4)": a number outside the expression means it is not the whole question
        return KeyCheck(status="unchecked", detail=f"numbers outside the expression {expression!r}")
    try:
        value = evaluate_expression(expression)
    except ValueError as error:
        return KeyCheck(status="unchecked", detail=f"cannot evaluate {expression!r}: {error}")
    keyed = _number(choices[answer_index])
    if keyed is None:
        return KeyCheck(status="unchecked", computed=str(value), detail="the keyed choice is not a number")
    matching = [i for i, choice in enumerate(choices) if _number(choice) == value]
    detail = f"{expression} = {value}; options equal to it: {matching or 'none'}"
    return KeyCheck(status="correct" if keyed == value else "wrong", computed=str(value), detail=detail)


CHECKERS: dict[str, Callable[[str, list[str], int], KeyCheck]] = {"arithmetic": check_arithmetic}


def get_checker(name: str) -> Callable[[str, list[str], int], KeyCheck]:
    try:
        return CHECKERS[name]
    except KeyError:
        raise ConfigError(f"unknown key checker {name!r}; known: {sorted(CHECKERS)}") from None


def summarise(checks: Iterable[KeyCheck]) -> dict[str, float | int | None]:
    """Counts per status and the share of checked keys that are correct."""
    counts = Counter(check.status for check in checks)
    checked = counts["correct"] + counts["wrong"]
    return {
        "correct": counts["correct"],
        "wrong": counts["wrong"],
        "unchecked": counts["unchecked"],
        "correct_share": round(counts["correct"] / checked, 4) if checked else None,
    }
