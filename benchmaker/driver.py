"""Driving a generation session: a new attempt starts as soon as one ends.

The session says which attempts to run (``next_attempts``) and records their outcomes; the driver only
keeps the workers busy. Waves (run a batch, wait for all of it, ask again) leave workers idle behind a
wave's slowest attempt: measured on the simulated provider at concurrency 32, 53-65% overhead over the
critical path with waves against 6-14% rolling (docs/measurements-perf.md). The flow, tools and tests all
use ``drive_in_threads``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from benchmaker.generation import GenerationSession, Outcome
from benchmaker.items import BenchmarkItem, Rejection


def drive_in_threads(
    session: GenerationSession,
    width: int,
    on_recorded: Callable[[BenchmarkItem | Rejection | None], None] | None = None,
) -> None:
    """Run the session to its stop on ``width`` threads: submit every attempt ``next_attempts`` offers that
    is not running yet, record outcomes in the order they end, and ask again after each one.

    ``next_attempts`` counts the running attempts among the ones it offers, so no more attempts run at
    once than it allows (its wave size) and none beyond the items still missing.

    When the drive stops early, attempts not yet started are cancelled. After a failure (a fatal provider
    error, a failing store) the running ones are waited for, so their calls are metered and cached and a
    resume does not pay for them again. After a signal (Ctrl-C, Prefect's SIGTERM) they are not: a local
    model's call can take minutes, and the stop must be prompt (measured: SIGTERM took the time left of the
    calls in flight). Their calls in flight are lost and re-paid on resume; what they recorded stays.
    """
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="attempt")
    ended: queue.SimpleQueue[Future[Outcome]] = queue.SimpleQueue()
    submitted: set[int] = set()
    running = 0
    try:
        while True:
            for attempt in session.next_attempts():
                if attempt not in submitted:
                    submitted.add(attempt)
                    pool.submit(session.run_attempt, attempt).add_done_callback(ended.put)
                    running += 1
            if running == 0:
                break
            future = ended.get()
            running -= 1
            recorded = session.record(future.result())
            if on_recorded is not None:
                on_recorded(recorded)
    except Exception:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
