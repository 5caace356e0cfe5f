"""Whether a run directory is being written: the single-writer lock of issue 12, probed the same way.

A writer (``run``, ``run --resume``) holds an exclusive ``flock`` on ``<run>/.writer.lock`` for as long
as it writes and writes its pid into the file; the kernel drops the lock when the writer dies. A review
takes that same lock, without waiting, for the instant it appends a decision: a writer holding it means
the run is being written and the decision is refused; a writer starting during that instant is refused
by its own lock instead. This module mirrors ``benchmaker.dirlock`` (issue 12, not merged yet) and is
to be replaced by it: same file name, same lock, same pid convention.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from benchmaker.errors import StoreError

WRITER_LOCK = ".writer.lock"


class RunBeingWritten(StoreError):
    """A generation process holds the run's writer lock."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _refusal(run_dir: Path, holder: str) -> RunBeingWritten:
    pid = f" (pid {holder})" if holder else ""
    return RunBeingWritten(
        f"run {run_dir} is being written by another benchmaker process{pid}; "
        "review it once that process has finished (nothing was recorded)"
    )


@contextlib.contextmanager
def no_writer(run_dir: Path) -> Iterator[None]:
    """Hold the run's writer lock for the body, or raise :class:`RunBeingWritten` at once.

    The lock file is created if missing (as the writer does), so a writer starting during the body
    finds it taken and is refused by its own lock.
    """
    path = Path(run_dir) / WRITER_LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StoreError(f"cannot check whether {run_dir} is being written: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(Path(run_dir), _holder(fd)) from None
        with contextlib.suppress(OSError):  # as the writer does: the holder's pid, for a refused writer's message
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
