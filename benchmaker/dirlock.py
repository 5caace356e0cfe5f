"""One writer per directory: an exclusive, non-blocking lock held for as long as a process writes there.

``flock`` on a lock file inside the directory. The kernel drops the lock when its holder dies (SIGKILL
included), so a killed run never leaves a stale lock behind, and a second writer, in another process or
in this one, is refused at once instead of interleaving its records with the first one's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from benchmaker.errors import StoreError

LOCK_FILE = ".writer.lock"


class DirectoryBusy(StoreError):
    """Another process (or another writer in this one) holds the directory's lock."""

    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder
        """The holder's pid as it wrote it into the lock file ("" when unknown)."""


class DirectoryLock:
    def __init__(self, directory: Path, what: str = "directory") -> None:
        self.path = Path(directory) / LOCK_FILE
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DirectoryLock:
        """Take the lock or raise :class:`DirectoryBusy` naming the holder's pid."""
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        except OSError as error:
            raise StoreError(f"cannot lock {self.what} {self.path.parent}: {error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DirectoryBusy(
                f"{self.what} {self.path.parent} is being written by another benchmaker process"
                f"{f' (pid {holder})' if holder else ''}; wait for it to finish, or stop it and resume",
                holder,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # the pid is only for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def check_free(self) -> None:
        """Raise :class:`DirectoryBusy` if a writer holds the directory now (takes and drops the lock)."""
        if not self.path.parent.is_dir():
            return
        probe = DirectoryLock(self.path.parent, self.what)
        probe.acquire()
        probe.release()

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
