"""The generation session: which attempts to run next, and what to do with their outcomes.

The session is the resumable state of a run; whoever drives it (the Prefect flow, or a plain
loop in tests) only asks for the next attempt numbers, runs them, and hands back the outcomes.
Attempts are numbered; an attempt recorded as accepted or rejected is never run again, so a
resumed run picks up exactly where the killed one stopped.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from benchmaker.config import LETTERS, RunConfig
from benchmaker.errors import BudgetExceeded, LLMError, LLMFatalError, StoreError
from benchmaker.items import BenchmarkItem, Draft, Rejection, normalize_text, utc_now
from benchmaker.methods.base import Method, attempt_seed
from benchmaker.store import RunStore


class StopReason(StrEnum):
    COMPLETE = "complete"
    BUDGET = "budget_exhausted"
    REJECTION_RATIO = "rejection_ratio_exceeded"
    ATTEMPTS = "attempts_exhausted"


@dataclass(frozen=True)
class BudgetStop:
    """An attempt that could not run because the budget is spent (not an item failure)."""

    attempt: int
    detail: str


Outcome = Draft | Rejection | BudgetStop | None
"""``None``: the attempt was skipped because the run had already stopped."""


def place_answer(draft: Draft, target: int, rng: random.Random) -> tuple[list[str], list[int]]:
    """Put the correct choice at ``target`` and shuffle the distractors around it.

    Returns the new choices and the permutation (new position -> original index).
    """
    original = list(draft.mcq.choices)
    distractors = [i for i in range(len(original)) if i != draft.mcq.answer_index]
    rng.shuffle(distractors)
    order = distractors[:target] + [draft.mcq.answer_index] + distractors[target:]
    return [original[i] for i in order], order


def internal_error(attempt: int, error: Exception) -> Rejection:
    """An unexpected exception as a rejection: the stage is the method module it came from, the detail
    its type, message and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/benchmaker/" in frame.filename.replace("\\", "/")]
    steps = [frame for frame in ours if "/methods/" in frame.filename.replace("\\", "/")]
    stage = Path(steps[-1].filename).stem if steps else "attempt"
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - an exception whose str() fails
        message = ""
    detail = f"{type(error).__name__}: {message[:300]}{where}"
    return Rejection(attempt=attempt, stage=stage, reason="internal_error", detail=detail[:500])


class GenerationSession:
    def __init__(self, config: RunConfig, store: RunStore, method: Method) -> None:
        self.config = config
        self.store = store
        self.method = method
        self._lock = threading.Lock()
        self.items = store.items()
        self.rejections = store.rejections()
        self.done_attempts = {item.attempt for item in self.items} | {r.attempt for r in self.rejections}
        self.seen_questions = {normalize_text(item.question) for item in self.items}
        self.stop_reason: StopReason | None = None
        self.stop_detail = ""
        self._prepared = False
        self._in_flight: set[int] = set()

    def prepare(self) -> None:
        """The method's run-level step (demand analysis, attributes), once per session.

        A budget spent here stops the run cleanly, like one spent by an attempt.
        """
        if self._prepared or self.stop_reason is not None:
            return
        try:
            self.method.prepare(tuple(self.items))
        except BudgetExceeded as error:
            self.stop_reason, self.stop_detail = StopReason.BUDGET, str(error)
            return
        self._prepared = True

    # -- what to run next --------------------------------------------------------------------------

    @property
    def target(self) -> int:
        return self.config.requirement.n_items

    @property
    def max_attempts(self) -> int:
        return self.target * self.config.generation.max_attempts_per_item

    def remaining(self) -> int:
        return max(0, self.target - len(self.items))

    def next_attempts(self) -> list[int]:
        """The lowest attempt numbers not yet recorded, one per missing item; empty once stopped.

        At most ``wave_factor`` attempts per worker, counting those still running (the rolling driver in
        ``benchmaker.driver`` submits only the new ones), so a stop condition is seen soon after it arises.
        A method that learns from accepted items (diffusion) uses one attempt per worker: an attempt then
        sees every item accepted before it starts.
        """
        self.prepare()
        with self._lock:
            self._update_stop_reason()
        if self.stop_reason is not None:
            return []
        wanted = min(self.remaining(), self.method.wave_factor * self.config.concurrency)
        attempts, candidate = [], 0
        while len(attempts) < wanted and candidate < self.max_attempts:
            if candidate not in self.done_attempts:
                attempts.append(candidate)
            candidate += 1
        return attempts

    def _update_stop_reason(self) -> None:
        if self.stop_reason is not None:
            return
        generation = self.config.generation
        attempted = len(self.done_attempts)
        if self.remaining() == 0:
            self.stop_reason = StopReason.COMPLETE
        elif (
            attempted >= generation.min_attempts_for_ratio
            and len(self.rejections) / attempted > generation.max_rejection_ratio
        ):
            self.stop_reason = StopReason.REJECTION_RATIO
            self.stop_detail = (
                f"{len(self.rejections)} of {attempted} attempts were rejected, above the configured "
                f"limit of {generation.max_rejection_ratio:.0%}; see rejections.jsonl for the reasons"
            )
        elif len(self.done_attempts) >= self.max_attempts:
            self.stop_reason = StopReason.ATTEMPTS
            self.stop_detail = (
                f"all {self.max_attempts} attempts used ({self.config.generation.max_attempts_per_item} per item) "
                f"with {len(self.items)} of {self.target} items accepted"
            )

    # -- running and recording -------------------------------------------------------------------

    def run_attempt(self, attempt: int) -> Outcome:
        """Never raises for an item failure; a spent budget comes back as ``BudgetStop``.

        Only what would hit every attempt alike stops the run: a fatal provider error (a bad key) or
        the run's own files failing (a full disk). Any other exception, a bug or a reply nobody
        foresaw, becomes this attempt's rejection (``internal_error``), so it is recorded and a resume
        goes past it instead of meeting the same cached reply and crashing again.
        """
        with self._lock:
            self._update_stop_reason()
            if self.stop_reason is not None:
                return None
            accepted = tuple(self.items)
            # The item this attempt fills: after the accepted ones and those still being attempted.
            slot = min(self.target - 1, len(self.items) + len(self._in_flight))
            self._in_flight.add(attempt)
        try:
            return self.method.generate(attempt, accepted, slot)
        except BudgetExceeded as error:
            return BudgetStop(attempt, str(error))
        except (LLMFatalError, StoreError):
            raise  # every attempt would fail alike: stop the run with the provider's or the store's message
        except LLMError as error:
            return Rejection(attempt=attempt, stage="generate", reason="llm_error", detail=str(error)[:500])
        except Exception as error:  # noqa: BLE001 - one attempt's fault, never the run's
            return internal_error(attempt, error)

    def record(self, outcome: Outcome) -> BenchmarkItem | Rejection | None:
        """Persist one outcome; drafts become items unless they duplicate an accepted question."""
        if outcome is None:
            return None
        with self._lock:
            self._in_flight.discard(outcome.attempt)
            if isinstance(outcome, BudgetStop):
                self.stop_reason = StopReason.BUDGET
                self.stop_detail = outcome.detail
                return None
            if outcome.attempt in self.done_attempts:
                return None
            if isinstance(outcome, Draft):
                return self._accept_or_reject(outcome)
            self._reject(outcome)
            return outcome

    def _reject(self, rejection: Rejection) -> None:
        self.store.append_rejection(rejection)
        self.rejections.append(rejection)
        self.done_attempts.add(rejection.attempt)

    def _accept_or_reject(self, draft: Draft) -> BenchmarkItem | Rejection | None:
        attempt = draft.attempt
        key = normalize_text(draft.mcq.question)
        if key in self.seen_questions:
            rejection = Rejection(
                attempt=attempt,
                stage="deduplicate",
                reason="duplicate_question",
                detail=draft.mcq.question[:200],
                draft=draft.mcq,
            )
            self._reject(rejection)
            return rejection
        refused = self.method.admit(draft)
        if refused is not None:
            self._reject(refused)
            return refused
        item = self._build_item(draft, attempt)
        self.store.append_item(item)
        self.items.append(item)
        self.seen_questions.add(key)
        self.done_attempts.add(attempt)
        return item

    def _build_item(self, draft: Draft, attempt: int) -> BenchmarkItem:
        """Balance answer positions: the key goes to the least-used position so far (seeded ties)."""
        n = self.config.requirement.n_options
        counts = Counter(item.answer_index for item in self.items)
        fewest = min(counts.get(i, 0) for i in range(n))
        rng = random.Random(attempt_seed(self.config.seed, attempt, "shuffle"))
        target = rng.choice([i for i in range(n) if counts.get(i, 0) == fewest])
        choices, order = place_answer(draft, target, rng)
        position_of = {original: position for position, original in enumerate(order)}
        # Provenance naming options by generated index is rewritten as letters of the final order.
        option_fields = {
            name: [LETTERS[position_of[i]] if i is not None else None for i in indices]
            for name, indices in draft.option_fields.items()
        }
        return BenchmarkItem(
            id=draft.mcq.content_id(),
            question=draft.mcq.question,
            choices=choices,
            answer=LETTERS[target],
            answer_index=target,
            metadata={
                **draft.metadata,
                **option_fields,
                "attempt": attempt,
                "method": self.method.name,
                "original_answer_index": draft.mcq.answer_index,
                "choice_order": order,
                "created_at": utc_now(),
            },
        )
