"""A generation run as its own process, to be SIGKILLed at any moment and resumed by the next one.

``python -m tests.kill_driver start CONFIG.json`` or ``python -m tests.kill_driver resume RUN_DIR`` runs one
session without Prefect: attempts on a thread pool of ``concurrency`` workers, recorded as they finish,
as the flow does. :func:`session` does the same in a process forked from a server that has imported
everything once (``multiprocessing``'s forkserver), so a test can afford several kills.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import litellm  # noqa: F401 - preloaded by the fork server: forked sessions start at once
import openai  # noqa: F401

from benchmaker.config import parse_config
from benchmaker.driver import drive_in_threads
from benchmaker.run import finish_run, resume_run, start_run


def drive(action: str, target: Path) -> dict:
    run = start_run(parse_config(json.loads(target.read_text()))) if action == "start" else resume_run(target)
    print(run.store.run_dir, flush=True)
    drive_in_threads(run.session, run.config.concurrency)
    summary = finish_run(run)
    result = {"status": summary["status"], "accepted": summary["accepted"], "run_dir": str(run.store.run_dir)}
    print(json.dumps(result), flush=True)
    return result


def session(action: str, target: str, log: str) -> None:
    """A forked session in a process group of its own (the kill takes the whole group), output to ``log``."""
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    drive(action, Path(target))


if __name__ == "__main__":
    drive(sys.argv[1], Path(sys.argv[2]))
