"""Is the draft what the requirement asked for? Checks that turn down a well-keyed item that is still not a
good item: a question that asks for several things (no single option can answer it), options that do not
answer what is asked, a draft that breaks an explicit constraint of the requirement.

Each check sits where it is cheapest: the wording check costs nothing and runs first; the focused question
to the judge costs one short call and runs once a draft's key is settled, before the solvers' many samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import LETTERS
from benchmaker.items import MCQ, normalize_text
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.structured import ReplyInvalid, parse_reply
from benchmaker.methods.benchmaker.calls import sample
from benchmaker.prompts import PromptLibrary

PROMPT_ID = "benchmaker.check_draft"

# "... how many moles are needed and which reagent is limiting": a second request joined to the first.
_SECOND_REQUEST = re.compile(
    r"(?:\band\s+(?:also\s+)?|[;,]\s*(?:and\s+)?(?:then\s+)?)"
    r"(?:which|what|whether|identify|determine|find|calculate|state|name|explain|how\s+(?:many|much|long|far|fast))\b",
    re.IGNORECASE,
)
_QUESTION_MARK = re.compile(r"\?(?=\s|$)")
# A joined request counts only after a first one: "In a reaction, what is ..." opens with a clause, not a request.
_FIRST_REQUEST = re.compile(
    r"\b(?:which|what|whether|identify|determine|find|calculate|compute|state|name|explain|how)\b", re.IGNORECASE
)


def several_requests(question: str) -> str | None:
    """Why the wording asks for more than one thing, or None. Deliberately narrow: two question marks, or a
    request joined to an earlier request by "and which / and what / , how many ..." in the last sentence."""
    if len(_QUESTION_MARK.findall(question)) >= 2:
        return "the question asks two questions (two question marks)"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s]
    last = sentences[-1] if sentences else question
    found = next((m for m in _SECOND_REQUEST.finditer(last) if _FIRST_REQUEST.search(last, 0, m.start())), None)
    if found:
        context = last[max(0, found.start() - 40) : found.end() + 30]
        return f"the question joins a second request to the first: ...{context}..."
    return None


class DraftVerdict(BaseModel):
    """The judge's focused reading of one draft: the things it asks for (listed, not a yes/no: asked "does it
    ask several things?", the 1.5B judge said yes for 3 of 3 one-step questions), whether the choices answer
    it, and the constraints it breaks."""

    model_config = ConfigDict(extra="forbid")

    asked: list[str] = Field(min_length=1, max_length=6)
    choices_answer_it: bool
    broken_constraints: list[str] = Field(max_length=12)

    def things_asked(self, question: str) -> list[str]:
        """The distinct things asked, as the judge listed them: paraphrases of one thing count once, and a thing
        sharing no word with the question (a topic such as "decimal numbers", or the prompt's own example copied
        into the list) is not something the question asks."""
        in_question = content_words(question)
        distinct: list[tuple[str, set[str]]] = []
        for thing in self.asked:
            words = content_words(thing)
            if not words & in_question:
                continue
            if not any(_same_thing(words, other) for _, other in distinct):
                distinct.append((thing.strip(), words))
        return [thing for thing, _ in distinct]

    def several_things(self, question: str) -> bool:
        return len(self.things_asked(question)) >= 2


# Seen on the local judge (2026-11-30): four wordings of one price; the prompt's moles/reagent example copied
# into the list for a question about prices; "addition" and "decimal numbers" listed for "What is 78.15 + 3.2?".
_STOPWORDS = frozenset(
    """a an the of is are was be will would what which who how much many does do did to in for after before and
    or with on at by from that this it its find calculate compute determine give state name tell identify value
    answer question there get result equal equals""".split()  # noqa: SIM905 - a word list reads best as words
)


def content_words(text: str) -> set[str]:
    """Lower-cased words without question words and fillers, a plural "s" dropped: "How much is the final
    price?" -> {"final", "price"}."""
    words = re.findall(r"[^\W_]+", text.casefold())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOPWORDS}


def _same_thing(a: set[str], b: set[str]) -> bool:
    """One wording's words inside the other's ("the final price" and "the final price after one discount"),
    or most words shared."""
    return a <= b or b <= a or len(a & b) / len(a | b) >= 0.5


@dataclass(frozen=True)
class DraftCheck:
    reason: str = ""
    """A rejection reason (asks_several_things, choices_do_not_answer, breaks_constraint); empty when it passed."""
    detail: str = ""
    verdict: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.reason


def _named(claimed: Sequence[str], constraints: Sequence[str]) -> list[str]:
    """The constraints the judge says are broken, among those that exist: a small judge invents rules, and
    only the requirement's own constraints may turn a draft down."""
    known = {normalize_text(c): c for c in constraints}
    named: list[str] = []
    for text in claimed:
        norm = normalize_text(text).strip(" .")
        for key, constraint in known.items():
            if norm and (norm in key or key.strip(" .") in norm) and constraint not in named:
                named.append(constraint)
    return named


def check_draft(
    judge: RoleModel,
    prompts: PromptLibrary,
    mcq: MCQ,
    *,
    requirement: str,
    constraints: Sequence[str],
    single_question: bool,
    check_constraints: bool,
    votes: int,
    seed: int,
    sample_key: str,
    attempt: int,
) -> DraftCheck:
    """``votes`` readings of the draft by the judge (one request: the provider's n, or n seeded calls; at
    temperature 0 when there is one vote, else 0.7), and each finding decided by a strict majority of the
    readings that parse: a single reading by a small judge flags a plain one-step question as asking
    several things (measured on the local model). Raises LLMError when the call fails; when no reading
    parses the check could not be made, and the draft passes it (noted), never a guess."""
    texts = sample(
        judge,
        prompts.get(PROMPT_ID).render(
            requirement=requirement,
            constraints=list(constraints) if check_constraints else [],
            question=mcq.question,
            choices=list(mcq.choices),
            letters=list(LETTERS[: len(mcq.choices)]),
        ),
        PROMPT_ID,
        DraftVerdict,
        n=votes,
        temperature=0.0 if votes == 1 else 0.7,
        seed=seed,
        sample_key=sample_key,
        attempt=attempt,
    )
    verdicts: list[DraftVerdict] = []
    for text in texts:
        try:
            verdicts.append(parse_reply(text, DraftVerdict))
        except ReplyInvalid:
            continue
    if not verdicts:
        return DraftCheck(detail=f"check not made: none of {len(texts)} readings parsed")
    record = {"readings": [v.model_dump() for v in verdicts], "votes": votes}
    majority = len(verdicts) // 2 + 1
    asks = "; ".join(dict.fromkeys(" + ".join(v.things_asked(mcq.question) or v.asked) for v in verdicts))[:250]
    if single_question and sum(v.several_things(mcq.question) for v in verdicts) >= majority:
        return DraftCheck("asks_several_things", f"the judge reads it as asking for: {asks}", record)
    if check_constraints and sum(not v.choices_answer_it for v in verdicts) >= majority:
        return DraftCheck("choices_do_not_answer", f"the question asks for: {asks}", record)
    if check_constraints:
        named = Counter(c for v in verdicts for c in _named(v.broken_constraints, constraints))
        broken = [constraint for constraint, count in named.items() if count >= majority]
        if broken:
            return DraftCheck("breaks_constraint", "breaks: " + "; ".join(broken)[:280], record)
    return DraftCheck(verdict=record)
