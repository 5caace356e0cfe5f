"""Model replies fuzzed with hypothesis: whatever a model answers, an attempt ends as a draft or a rejection
and nothing but benchmaker's own errors is ever raised (issue 12).

Replies are drawn per request: arbitrary text, arbitrary JSON, JSON nested 50,000 deep or with integers
of thousands of digits, and above all the scripted fake's valid reply with one field broken, dropped or
added, fenced, wrapped in prose or cut short, so the fuzz reaches past parsing into validation, self
test-taking, discrimination and program matching. ``BENCHMAKER_FUZZ_EXAMPLES`` sets the examples per test
(``scripts/bench_faults.py`` runs thousands); the CI default is small.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmaker.config import Budget, LLMSettings, parse_config
from benchmaker.errors import BenchmakerError
from benchmaker.items import Draft, Rejection
from benchmaker.llm.factory import build_role_model
from benchmaker.llm.meter import Meter
from benchmaker.llm.scripted import ScriptedLLM
from benchmaker.llm.types import Completion, LLMRequest
from benchmaker.methods import GenerationContext, make_method
from benchmaker.methods.benchmaker import program_check, program_keys, value_first
from benchmaker.prompts import PromptLibrary
from benchmaker.verification.sandbox import ProgramRun
from benchmaker.verification.values import encode

EXAMPLES = int(os.environ.get("BENCHMAKER_FUZZ_EXAMPLES", "60"))
TRIED: dict[str, int] = {}
"""Examples run per test in this process (printed by scripts/bench_faults.py)."""
ENDINGS: dict[str, dict[str, int]] = {}
"""How the fuzzed attempts ended, per method: "draft" or the rejection's stage:reason."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)


@st.composite
def broken(draw: st.DrawFn, valid: str) -> str:
    """The valid reply with a fault a model could make."""
    try:
        data = json.loads(valid)
    except ValueError:
        data = {}
    if isinstance(data, dict) and data:
        key = draw(st.sampled_from(sorted(data)))
        action = draw(st.sampled_from(["replace", "drop", "add", "keep", "plausible", "plausible"]))
        if action == "plausible":  # another well-formed answer: a different letter, verdict or score
            for name, choices in (("answer", list("ABCD")), ("label", [*"ABCD", "none"]), ("score", [0, 1, 2])):
                if name in data:
                    data[name] = draw(st.sampled_from(choices))
        elif action == "replace":
            data[key] = draw(json_values | st.lists(st.text(max_size=30), max_size=12))
        elif action == "drop":
            del data[key]
        elif action == "add":
            data[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    wrap = draw(st.sampled_from(["bare", "fence", "prose", "cut", "braces"]))
    if wrap == "fence":
        return f"```json\n{text}\n```"
    if wrap == "prose":
        return f"Sure! Here it is: {text} Hope that helps."
    if wrap == "cut":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if wrap == "braces":
        return text + "}" * draw(st.integers(1, 3))
    return text


def reply_for(valid: str) -> st.SearchStrategy[str]:
    """Valid 4 times in 10 (so attempts get past their first step), broken 3, anything else 3."""
    return st.integers(0, 9).flatmap(
        lambda pick: (
            st.just(valid)
            if pick < 4
            else broken(valid)
            if pick < 7
            else st.one_of(
                st.text(max_size=200),
                json_values.map(json.dumps),
                st.integers(1, 50_000).map(lambda depth: "[" * depth + "]" * depth),
                st.integers(4_301, 6_000).map(lambda digits: '{"answer": ' + "7" * digits + "}"),
                st.text(max_size=30).map(
                    lambda t: '{"program": ' + json.dumps(t + "\nanswer = " + "-" * 3000 + "1") + "}"
                ),
            )
        )
    )


@dataclass
class FuzzedModel:
    """A provider whose replies hypothesis draws, seeded by the scripted fake's valid reply."""

    draw: st.DrawFn | None = None
    valid: ScriptedLLM = field(default_factory=ScriptedLLM)

    def complete(self, request: LLMRequest) -> Completion:
        good = self.valid.complete(request)
        if self.draw is None:
            return good
        texts = tuple(self.draw(reply_for(text)) for text in good.texts)
        return good.model_copy(update={"texts": texts, "finish_reasons": ("stop",) * len(texts)})


values = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.fractions().map(Fraction),
    st.text(max_size=40),
    st.lists(st.integers() | st.text(max_size=5), max_size=5),
    st.booleans(),
    st.none(),
)


@contextlib.contextmanager
def fuzzed_programs(draw: st.DrawFn) -> Iterator[None]:
    """The sandbox's verdict drawn too (a run of each fuzzed program would take a quarter second): often
    the key's own option as written, so matching, agreement and the judge are reached; else any value."""

    def runner(source: str, limits: object) -> ProgramRun:
        if draw(st.integers(0, 4)) == 0:
            return ProgramRun(ok=False, failure="exception", detail="fuzzed", seconds=0.01, isolation=())
        product = re.search(r"a = (\d+)\nb = (\d+)", source)
        value = int(product.group(1)) * int(product.group(2)) if product and draw(st.booleans()) else draw(values)
        return ProgramRun(ok=True, value=encode(value), seconds=0.01, isolation=())

    real = program_keys.check_with_programs
    program_keys.check_with_programs = value_first.check_with_programs = functools.partial(real, runner=runner)
    try:
        yield
    finally:
        program_keys.check_with_programs = value_first.check_with_programs = real


def method_under_fuzz(name: str):  # noqa: ANN201 - (method, provider)
    """``benchmaker`` checks keys by program; ``benchmaker-judge`` does not and sends any solver conflict to
    the judge, so the fuzz reaches discrimination too."""
    judge = name == "benchmaker-judge"
    config = parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 5, "n_options": 4},
            "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
            "method": "direct" if name == "direct" else "benchmaker",
            "generation": {"max_repairs": 1},
            "benchmaker": {
                "embedder": "hashing",
                "candidates": 2,
                "solver_samples": 3,
                "discrimination_trigger": "any" if judge else "majority",
                "program": {"mode": "off" if judge else "on", "allow_weaker_isolation": True},
            },
        }
    )
    provider = FuzzedModel()
    meter = Meter(Budget())
    models = {
        role: build_role_model(
            role,
            getattr(config.models, role),
            settings=LLMSettings(max_retries=0),
            meter=meter,
            sink=None,
            cache_dir=None,
            provider=provider,
        )  # fmt: skip
        for role in ("generator", "solver", "judge")
    }
    method = make_method(config.method, GenerationContext(config=config, models=models, prompts=PromptLibrary()))
    method.prepare(())  # the run-level steps with valid replies; the attempts get the fuzz
    return method, provider


def fuzz_attempts(name: str, data: st.DataObject) -> None:
    method, provider = FUZZED[name]
    TRIED[name] = TRIED.get(name, 0) + 1
    attempt = data.draw(st.integers(0, 1_000), label="attempt")  # drawn: a replayed example is the same one
    provider.draw = data.draw
    try:
        with fuzzed_programs(data.draw):
            outcome = method.generate(attempt, (), 0)
    except BenchmakerError:
        return  # benchmaker's own errors (a fatal provider error would stop the run in one line)
    finally:
        provider.draw = None
    assert isinstance(outcome, Draft | Rejection)
    ending = "draft" if isinstance(outcome, Draft) else f"{outcome.stage}:{outcome.reason}"
    ENDINGS.setdefault(name, {})[ending] = ENDINGS.setdefault(name, {}).get(ending, 0) + 1
    if isinstance(outcome, Draft):
        assert outcome.mcq.choices[outcome.mcq.answer_index].strip()


FUZZED = {name: method_under_fuzz(name) for name in ("direct", "benchmaker", "benchmaker-judge")}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(st.data())
def test_fuzzed_replies_end_direct_attempts_as_drafts_or_rejections(data: st.DataObject) -> None:
    fuzz_attempts("direct", data)


@FUZZ
@given(st.data())
def test_fuzzed_replies_end_benchmaker_attempts_as_drafts_or_rejections(data: st.DataObject) -> None:
    fuzz_attempts("benchmaker", data)


@FUZZ
@given(st.data())
def test_fuzzed_replies_reach_the_judge_and_end_as_drafts_or_rejections(data: st.DataObject) -> None:
    fuzz_attempts("benchmaker-judge", data)


@FUZZ
@given(st.text(max_size=300) | json_values.map(json.dumps), st.integers(2, 10))
def test_fuzzed_panel_answers_are_a_letter_or_none(text: str, n_options: int) -> None:
    from benchmaker.scoring.panel import parse_letter

    TRIED["panel"] = TRIED.get("panel", 0) + 1
    assert parse_letter(text, n_options) in (None, *range(n_options))


@FUZZ
@given(st.text(max_size=400))
def test_fuzzed_programs_are_cleaned_without_raising(source: str) -> None:
    TRIED["program_source"] = TRIED.get("program_source", 0) + 1
    assert isinstance(program_check.cleaned(source), str)
