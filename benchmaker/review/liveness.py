"""Whether a run directory is being written, asked the way the writers themselves ask: ``benchmaker.dirlock``.

A writer (``run``, ``run --resume``) holds the run's :class:`~benchmaker.dirlock.DirectoryLock` for as long
as it writes. A review takes the same lock, without waiting, for the instant it appends a decision: a writer
holding it means the run is being written and the decision is refused; a writer starting during that
instant is refused by its own lock instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from benchmaker.dirlock import LOCK_FILE, DirectoryBusy, DirectoryLock

WRITER_LOCK = LOCK_FILE


class RunBeingWritten(DirectoryBusy):
    """A generation process holds the run's writer lock."""


@contextlib.contextmanager
def no_writer(run_dir: Path) -> Iterator[None]:
    """Hold the run's writer lock for the body, or raise :class:`RunBeingWritten` at once."""
    lock = DirectoryLock(Path(run_dir), "run")
    try:
        lock.acquire()
    except DirectoryBusy as busy:
        pid = f" (pid {busy.holder})" if busy.holder else ""
        raise RunBeingWritten(
            f"run {run_dir} is being written by another benchmaker process{pid}; "
            "review it once that process has finished (nothing was recorded)",
            busy.holder,
        ) from None
    try:
        yield
    finally:
        lock.release()
