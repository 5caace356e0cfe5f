"""A deterministic scripted fake behind the same seam, selectable by config as ``scripted``.

Without a script it answers the prompts it knows with valid, deterministic replies derived from
the request hash: correct multiplication MCQs as a generator, a demand analysis and attributes,
right answers to those MCQs (with probability ``skill``) as an examinee or solver, verdicts as a
judge, programs computing their answers, and requirement rewrites.

A script (``scripted:<file.yaml>``) queues replies per prompt id, consumed in order before the
built-in answers; an entry may also be an error to raise::

    responses:
      direct.generate_mcq:
        - 'not json'                        # a reply text
        - {error: transient, retry_after: 0}  # raise LLMTransientError
        - {error: permanent}                # raise LLMPermanentError (one item's rejection)
        - {error: fatal}                    # raise LLMFatalError (stops the run)
    usd_per_call: 0.001                      # fake price, for budget tests
    delay_s: 0.2                             # really sleep per call, for kill-and-resume tests
    memorised:                               # texts the fake "has seen in training"
      - 'Which gas makes up most of the air?'                 # a text
      - {text: 'What is the capital of Peru?', answer: Lima}  # with its answer's text

As a continuer (raw completion, or the continue-verbatim chat prompt) the fake behaves like a
language model that copies what it has seen: a prompt ending with the start of a memorised text,
or of a paragraph earlier in the same prompt (text shown in its context), is continued with the
rest of that text; anything else gets a fixed sentence no question ends with. Asked to answer from
a question's beginning and its options, it names the option equal to a memorised text's answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmaker.errors import ConfigError, LLMFatalError, LLMPermanentError, LLMTransientError, ScriptExhaustedError
from benchmaker.llm.types import Completion, LLMRequest, Usage


class ScriptedError(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    error: str = Field(pattern=r"^(transient|permanent|fatal)$")
    retry_after: float | None = None


class MemorisedText(BaseModel):
    """A text the scripted fake has "memorised", with the text of its answer when it knows one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    answer: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"text": value} if isinstance(value, str) else value


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    responses: dict[str, list[str | ScriptedError]] = Field(default_factory=dict)
    memorised: list[MemorisedText] = Field(default_factory=list)
    usd_per_call: float = Field(default=0.0, ge=0)
    delay_s: float = Field(default=0.0, ge=0, le=60)
    skill: float = Field(default=1.0, ge=0, le=1, description="As an examinee: chance of a right answer.")


def load_script(path: Path) -> Script:
    from benchmaker.safe_load import load_yaml

    data = load_yaml(path, "script", ConfigError) or {}
    try:
        return Script.model_validate(data)
    except ValueError as error:
        raise ConfigError(f"invalid script {path}: {str(error).splitlines()[0]}") from None


def _rng_ints(request: LLMRequest, count: int) -> list[int]:
    digest = hashlib.sha256(request.content_hash().encode()).digest()
    return [int.from_bytes(digest[2 * i : 2 * i + 2], "big") for i in range(count)]


def _option_count(request: LLMRequest) -> int:
    try:
        return int(request.response_schema["properties"]["choices"]["minItems"])  # type: ignore[index]
    except (TypeError, KeyError):
        return 4


def builtin_mcq(request: LLMRequest) -> str:
    """A correct arithmetic MCQ whose numbers come from the request hash, in the reply schema's fields."""
    reply = _mcq_fields(request)
    properties = (request.response_schema or {}).get("properties", {})
    if "reasoning" in properties:
        reply["reasoning"] = reply.pop("explanation")
    if "value" in properties:
        reply["value"] = reply.pop("_value")
    reply.pop("_value", None)
    if properties and "choices" not in properties:  # a stem: its choices are built later
        reply.pop("choices")
        reply.pop("answer")
    if "analysis" in properties:
        reply = {"analysis": "Plan, draft, solve, distract, re-check.", **reply}
    return json.dumps(reply)


def _mcq_fields(request: LLMRequest) -> dict:
    n = _option_count(request)
    r = _rng_ints(request, 4)
    a, b = 10 + r[0] % 90, 10 + r[1] % 90
    value = a * b
    position = r[2] % n
    offsets = [k for k in range(-n, n + 1) if k != 0][: n - 1]
    distractors = [value + 10 * k + (r[3] % 7) for k in offsets]
    choices = distractors[:position] + [value] + distractors[position:]
    return {
        "question": f"What is {a} multiplied by {b}?",
        "choices": [str(c) for c in choices],
        "explanation": f"{a} x {b} = {value}.",
        "answer": "ABCDEFGHIJ"[position],
        "_value": str(value),
    }


def _min_attributes(request: LLMRequest) -> int:
    try:
        return int(request.response_schema["properties"]["attributes"]["minItems"])  # type: ignore[index]
    except (TypeError, KeyError):
        return 1


def builtin_attributes(request: LLMRequest) -> str:
    """General attributes (names and values) or difficulty attributes (levels with coefficients)."""
    count = _min_attributes(request)
    if request.prompt_id == "benchmaker.difficulty_attributes":
        attributes = [
            {
                "name": f"Difficulty factor {i + 1}",
                "levels": [{"value": f"level {c}", "coefficient": c} for c in (1, 4, 7, 10)],
            }
            for i in range(count)
        ]
    else:
        attributes = [
            {"name": f"Attribute {i + 1}", "values": [f"value {i + 1}.{j + 1}" for j in range(3)]} for i in range(count)
        ]
    return json.dumps({"attributes": attributes})


BUILTIN_DEMAND = {
    "task": "Multiply two whole numbers.",
    "question_content": "A product of two two-digit numbers.",
    "answer_choices": "The product and nearby wrong products.",
}


def builtin_demand(request: LLMRequest) -> str:
    """The built-in analysis; its one constraint is the requirement's first sentence, word for word."""
    text = _user_text(request)
    requirement = text.split("for this requirement:", 1)[-1].strip().split("\n", 1)[0]
    first = re.split(r"(?<=[.!?])\s", requirement, maxsplit=1)[0].strip()
    return json.dumps({**BUILTIN_DEMAND, "constraints": [first] if first else []})


BUILTIN_DRAFT_CHECK = {"asked": ["a product"], "choices_answer_it": True, "broken_constraints": []}


_PRODUCT = re.compile(r"What is (\d+) multiplied by (\d+)\?")
_CHOICE_LINE = re.compile(r"^([A-J])\. (.*)$", re.MULTILINE)


def _user_text(request: LLMRequest) -> str:
    return "\n".join(m.content for m in request.messages if m.role == "user")


def _known_key(text: str) -> str | None:
    """The correct letter of a built-in multiplication question, computed from the question itself."""
    product = _PRODUCT.search(text)
    if not product:
        return None
    value = str(int(product.group(1)) * int(product.group(2)))
    return next((letter for letter, choice in _CHOICE_LINE.findall(text) if choice.strip() == value), None)


def builtin_answer(request: LLMRequest, skill: float) -> str:
    """An examinee that knows multiplication and answers right with probability ``skill``."""
    text = _user_text(request)
    letters = [letter for letter, _ in _CHOICE_LINE.findall(text)] or ["A"]
    r = _rng_ints(request, 2)
    key = _known_key(text)
    if key is not None and (r[0] % 1000) / 1000 < skill:
        answer = key
    else:
        wrong = [letter for letter in letters if letter != key] or letters
        answer = wrong[r[1] % len(wrong)]
    if "reasoning" in (request.response_schema or {}).get("properties", {}):
        return json.dumps({"reasoning": f"Working it out gives {answer}.", "answer": answer})
    return json.dumps({"answer": answer})


def builtin_program(request: LLMRequest) -> str:
    """A programmer that computes built-in multiplication questions; for anything else, a program
    that fails (it has no givens it understands)."""
    product = _PRODUCT.search(_user_text(request))
    if product is None:
        return json.dumps({"program": "raise ValueError('cannot read the question')"})
    return json.dumps({"program": f"a = {product.group(1)}\nb = {product.group(2)}\nanswer = a * b"})


def builtin_distractors(request: LLMRequest) -> str:
    """Wrong answers near the correct one the prompt states (a whole number), as many as it asks for."""
    text = _user_text(request)
    correct = re.search(r"Correct answer: (-?\d+)", text)
    count = re.search(r"Write (\d+) wrong answers", text)
    base, n = (int(correct.group(1)) if correct else 100), (int(count.group(1)) if count else 3)
    return json.dumps({"distractors": [str(base + 10 * (k + 1)) for k in range(n)]})


def builtin_discrimination(request: LLMRequest) -> str:
    """A contrastive judge that knows multiplication: score 2 and the true option, else a flaw."""
    key = _known_key(_user_text(request))
    if key is None:
        return json.dumps({"analysis": "Cannot verify.", "score": 0, "label": "none"})
    return json.dumps({"analysis": "Checked both solutions.", "score": 2, "label": key})


def builtin_verdict(request: LLMRequest) -> str:
    """A judge: right keys of multiplication questions get 2, everything else a hash-chosen verdict."""
    text = _user_text(request)
    r = _rng_ints(request, 2)
    key = _known_key(text)
    keyed = re.search(r"(?:The answer is|Keyed answer:) ([A-J])", text)
    if key is not None and keyed is not None:
        judgement = 2 if keyed.group(1) == key else 0
    else:
        judgement = r[0] % 3
    analysis = " ".join(["checked"] * (5 + r[1] % 40))
    return json.dumps({"analysis": analysis, "judgement": judgement})


UNKNOWN_CONTINUATION = "and nothing else is known about it to this model."
_MIN_OVERLAP = 8  # characters a prompt must share with a text's start before the fake continues it


def _continue_from(prompt: str, texts: list[str]) -> str | None:
    """The rest of the text whose longest start the prompt ends with (at least ``_MIN_OVERLAP`` chars)."""
    best: tuple[int, str] | None = None
    for text in texts:
        for j in range(min(len(prompt), len(text) - 1), _MIN_OVERLAP - 1, -1):
            if prompt.endswith(text[:j]):
                if best is None or j > best[0]:
                    best = (j, text[j:])
                break
    return best[1] if best else None


def builtin_continuation(prompt: str, memorised: list[MemorisedText]) -> str:
    """Continue ``prompt`` like a model that copies: from its own context first, then from memory."""
    head, _, _ = prompt.rpartition("\n\n")
    in_context = _continue_from(prompt, [p for p in head.split("\n\n") if p.strip()]) if head else None
    if in_context is not None:
        return in_context
    remembered = _continue_from(prompt, [m.text for m in memorised])
    return remembered if remembered is not None else " " + UNKNOWN_CONTINUATION


_SHOWN_PREFIX = re.compile(r"Beginning of the question:\n(.*?)\n\nOptions:", re.DOTALL)


def builtin_prefix_answer(request: LLMRequest, memorised: list[MemorisedText], skill: float) -> str:
    """Name the option a memorised text's answer matches, when the shown beginning is one of them."""
    text = _user_text(request)
    shown = _SHOWN_PREFIX.search(text)
    options = dict((letter, choice.strip()) for letter, choice in _CHOICE_LINE.findall(text))
    if shown is not None:
        start = shown.group(1).strip()
        for item in memorised:
            if item.answer is not None and start and item.text.startswith(start):
                letter = next((k for k, v in options.items() if v == item.answer.strip()), None)
                if letter is not None:
                    return json.dumps({"answer": letter})
    return builtin_answer(request, skill)


class ScriptedLLM:
    """Thread-safe; with concurrency 1 the whole run is reproducible call for call."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self._cursor: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.requests: list[LLMRequest] = []

    def _next_scripted(self, prompt_id: str) -> str | ScriptedError | None:
        queue = self.script.responses.get(prompt_id, [])
        with self._lock:
            index = self._cursor[prompt_id]
            self._cursor[prompt_id] += 1
        return queue[index] if index < len(queue) else None

    def _one(self, request: LLMRequest, index: int) -> str:
        entry = self._next_scripted(request.prompt_id)
        if isinstance(entry, ScriptedError):
            if entry.error == "transient":
                raise LLMTransientError("scripted transient error", retry_after=entry.retry_after)
            if entry.error == "fatal":
                raise LLMFatalError("scripted fatal error (like an invalid api key)")
            raise LLMPermanentError("scripted permanent error")
        if entry is not None:
            return entry
        variant = request.model_copy(update={"sample_key": f"{request.sample_key}#{index}"}) if index else request
        if request.kind == "text":
            return builtin_continuation(request.prompt or "", self.script.memorised)
        if request.prompt_id == "contamination.continue":
            return builtin_continuation(_user_text(request), self.script.memorised).lstrip()
        if request.prompt_id == "contamination.prefix_answer":
            return builtin_prefix_answer(variant, self.script.memorised, self.script.skill)
        if request.prompt_id in ("direct.generate_mcq", "benchmaker.generate"):
            return builtin_mcq(variant)
        if request.prompt_id == "benchmaker.demand_analysis":
            return builtin_demand(request)
        if request.prompt_id == "benchmaker.computability":
            return json.dumps({"calculation": "Multiply the two numbers.", "computable": True})
        if request.prompt_id.endswith("_attributes"):
            return builtin_attributes(variant)
        if request.prompt_id == "benchmaker.solve":
            return builtin_answer(variant, self.script.skill)
        if request.prompt_id == "benchmaker.discriminate":
            return builtin_discrimination(variant)
        if request.prompt_id == "benchmaker.write_program":
            return builtin_program(variant)
        if request.prompt_id == "benchmaker.check_draft":
            return json.dumps(BUILTIN_DRAFT_CHECK)
        if request.prompt_id == "benchmaker.distractors":
            return builtin_distractors(request)
        if request.prompt_id.startswith("panel."):
            return builtin_answer(variant, self.script.skill)
        if request.prompt_id.startswith("judge."):
            return builtin_verdict(variant)
        if request.prompt_id == "robustness.rewrite_requirement":
            original = _user_text(request).split("Requirement:", 1)[-1].split("Reply with", 1)[0].strip()
            return json.dumps({"rewritten": f"Put differently: {original}"})
        raise ScriptExhaustedError(f"scripted model has no reply for prompt {request.prompt_id!r}")

    def cost_bound(self, request: LLMRequest) -> float:
        """What one call costs at most (the fake's fixed price), for the dollar budget's reservation."""
        return self.script.usd_per_call

    def complete(self, request: LLMRequest) -> Completion:
        with self._lock:
            self.requests.append(request)
        if self.script.delay_s:
            time.sleep(self.script.delay_s)
        texts = tuple(self._one(request, i) for i in range(request.n))
        prompt_words = sum(len(m.content.split()) for m in request.messages) + len((request.prompt or "").split())
        return Completion(
            texts=texts,
            finish_reasons=("stop",) * request.n,
            usage=Usage(
                input_tokens=prompt_words,
                output_tokens=sum(len(t.split()) for t in texts),
                cost_usd=self.script.usd_per_call,
            ),
            latency_s=self.script.delay_s,
        )


def scripted_from_model_name(model: str, base_dir: Path | None = None) -> ScriptedLLM:
    """``scripted`` or ``scripted:<path>`` (relative paths resolve against ``base_dir``)."""
    _, _, path = model.partition(":")
    if not path:
        return ScriptedLLM()
    script_path = Path(path)
    if not script_path.is_absolute() and base_dir is not None:
        script_path = base_dir / script_path
    return ScriptedLLM(load_script(script_path))
