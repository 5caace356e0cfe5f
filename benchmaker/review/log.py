"""``reviews.jsonl``: the append-only log of review decisions, safe for concurrent reviewers.

Every decision is checked and appended under an exclusive file lock beside the log, so reviewers in
several processes (or threads) never lose a decision and never interleave lines. Under that lock the
log is read again and the decision is refused when the item's latest decision is no longer the one
the reviewer's page showed (a stale page), and, for a run, when a generation process holds the run's
writer lock. Reading never modifies the file: a line cut short by a kill is skipped (and removed
under the lock before the next append).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from benchmaker.config import format_validation_error
from benchmaker.errors import BenchmakerError, StoreError
from benchmaker.review.models import ItemContent, ItemState, ReviewDecision, fold
from benchmaker.store import drop_partial_last_line

REVIEWS = "reviews.jsonl"
LOCK = ".reviews.lock"


class ReviewRefused(BenchmakerError):
    """A decision that cannot be recorded as asked (stale page, invalid content); nothing was written."""


class StaleDecision(ReviewRefused):
    """The item was decided since the reviewer's page was rendered."""


def read_decisions(path: Path) -> list[ReviewDecision]:
    """Every complete decision in ``path`` (none when it does not exist); a corrupt line is an error."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StoreError(f"cannot read {path}: {error.strerror or error}") from None
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is empty, or a line a kill cut short
    decisions = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            decisions.append(ReviewDecision.model_validate_json(line))
        except ValidationError as error:
            raise StoreError(f"{path}:{number}: corrupt review decision: {format_validation_error(error)}") from None
    return decisions


def states(decisions: list[ReviewDecision], originals: dict[str, ItemContent]) -> dict[str, ItemState]:
    """Each item's state: decided items from their decisions, the others unreviewed."""
    by_item: dict[str, list[ReviewDecision]] = {}
    for decision in decisions:
        by_item.setdefault(decision.item_id, []).append(decision)
    return {item_id: fold(item_id, content, by_item.get(item_id, [])) for item_id, content in originals.items()}


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = 0
        try:
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        except OSError as error:
            if written:  # undo a line cut short (full disk), so the next one is not glued to it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise StoreError(f"cannot record the decision in {path}: {error.strerror or error}") from None
    finally:
        os.close(fd)


class ReviewLog:
    """The reviews log of one run (``<run>/reviews.jsonl``) or one release (``<release>/reviews.jsonl``).

    ``guard`` is entered around every append: for a run it takes the run's writer lock or refuses.
    """

    def __init__(self, directory: Path, guard: Callable[[], contextlib.AbstractContextManager[None]] | None = None):
        self.directory = Path(directory)
        self.path = self.directory / REVIEWS
        self._guard = guard or contextlib.nullcontext
        self._thread_lock = threading.Lock()

    def decisions(self) -> list[ReviewDecision]:
        return read_decisions(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, FileLock(str(self.directory / LOCK), timeout=30), self._guard():
            yield

    def check_writable(self) -> None:
        """Raise what an append would raise now (a run being written), under the same lock as appends:
        a reviewer appending in another process holds the run's writer lock for an instant, and is never
        mistaken for a writer."""
        with self._locked():
            pass

    def decide(
        self,
        *,
        item_id: str,
        original: ItemContent,
        reviewer: str,
        action: str,
        based_on: str | None,
        reason: str | None = None,
        note: str = "",
        after: ItemContent | None = None,
    ) -> ReviewDecision:
        """Record one decision on ``item_id`` (whose generated content is ``original``) and return it.

        Raises:
            StaleDecision: the item's latest decision is not ``based_on``.
            ReviewRefused: the decision is invalid (no reason, a correction that changes nothing...).
            RunBeingWritten: (from the guard) a generation process is writing the run.
        """
        with self._locked():
            drop_partial_last_line(self.path)
            mine = [d for d in self.decisions() if d.item_id == item_id]
            state = fold(item_id, original, mine)
            if state.last_id != based_on:
                last = state.last
                assert last is not None  # based_on names a decision, or the item has one now
                raise StaleDecision(
                    f"item {item_id} was {last.action}ed by {last.reviewer} at {last.at}, after this page was "
                    "opened; reload it and decide again (nothing was recorded)"
                )
            if action == "accept":
                after = state.content
            elif action == "reject":
                after = None
            revision = state.revision + 1 if action == "correct" else state.revision
            try:
                decision = ReviewDecision(
                    reviewer=reviewer,
                    item_id=item_id,
                    action=action,
                    reason=reason,
                    note=note.strip(),
                    based_on=based_on,
                    before=state.content,
                    after=after,
                    revision=revision,
                )
            except ValidationError as error:
                raise ReviewRefused(f"{format_validation_error(error)} (nothing was recorded)") from None
            _append_line(self.path, (decision.model_dump_json() + "\n").encode())
            return decision
