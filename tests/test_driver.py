"""The rolling driver: a worker freed by an attempt takes the next one while a slow attempt is still running."""

import threading
import time

import pytest

from benchmaker.config import parse_config
from benchmaker.driver import drive_in_threads
from benchmaker.errors import LLMFatalError
from benchmaker.items import Rejection
from benchmaker.run import start_run


def start(tmp_path, n_items: int, concurrency: int):
    return start_run(
        parse_config(
            {
                "requirement": {"description": "Two-digit multiplication.", "n_items": n_items, "n_options": 4},
                "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
                "outputs_dir": str(tmp_path / "out"),
                "method": "direct",
                "concurrency": concurrency,
                "seed": 3,
            }
        )
    )


class Steered:
    """The direct method with a hook before each attempt; everything else is the method's own."""

    def __init__(self, method, before):  # noqa: ANN001
        self._method, self._before = method, before

    def __getattr__(self, name):  # noqa: ANN001, ANN204
        return getattr(self._method, name)

    def generate(self, attempt, accepted, slot):  # noqa: ANN001, ANN201
        outcome = self._before(attempt)
        return outcome if outcome is not None else self._method.generate(attempt, accepted, slot)


def test_a_slow_attempt_does_not_hold_back_the_others(tmp_path):
    """Attempt 0 waits until attempt 5 has started; attempts 1-4 are rejected at once. A wave driver would wait
    for attempt 0 before offering attempt 2, so attempt 5 would never start while 0 runs."""
    run = start(tmp_path, n_items=2, concurrency=2)
    fifth_started = threading.Event()
    lock, order = threading.Lock(), []

    def before(attempt: int) -> Rejection | None:
        with lock:
            order.append(attempt)
        if attempt == 5:
            fifth_started.set()
        if attempt == 0:
            assert fifth_started.wait(timeout=20), "attempt 5 never started while attempt 0 was running"
        if 1 <= attempt <= 4:
            return Rejection(attempt=attempt, stage="generate", reason="steered", detail="test")
        return None

    run.session.method = Steered(run.session.method, before)
    drive_in_threads(run.session, width=2)
    items = run.store.items()
    assert sorted(item.attempt for item in items) == [0, 5]
    assert sorted(r.attempt for r in run.store.rejections()) == [1, 2, 3, 4]
    assert order[:2] == [0, 1] or order[:2] == [1, 0]
    assert order[2:] == [2, 3, 4, 5]  # one at a time on the second worker, in attempt order
    run.store.close()


def test_no_attempt_runs_beyond_the_missing_items(tmp_path):
    """Rolling never starts more attempts than items still missing: 3 items on 8 workers run attempts 0-2 only."""
    run = start(tmp_path, n_items=3, concurrency=8)
    started = []
    run.session.method = Steered(run.session.method, lambda attempt: started.append(attempt))
    drive_in_threads(run.session, width=8)
    assert sorted(started) == [0, 1, 2]
    assert len(run.store.items()) == 3
    run.store.close()


def test_a_fatal_error_stops_the_drive_and_no_queued_attempt_starts(tmp_path):
    """Direct offers 4 attempts per worker: 8 submitted on 2 workers. Attempt 1 fails for good while attempt 0
    is still running; the 6 queued behind them never start, and attempt 0 is waited for."""
    run = start(tmp_path, n_items=8, concurrency=2)
    started, failed = [], threading.Event()

    def before(attempt: int) -> None:
        started.append(attempt)
        if attempt == 1:
            failed.set()
            raise LLMFatalError("the provider refused the key")
        if attempt == 0:
            assert failed.wait(timeout=20)
            time.sleep(0.5)  # the driver has seen the failure by now

    run.session.method = Steered(run.session.method, before)
    with pytest.raises(LLMFatalError, match="refused the key"):
        drive_in_threads(run.session, width=2)
    assert sorted(started) == [0, 1]
    assert [c.attempt for c in run.store.calls()] == [0]  # the running attempt ended and was metered
    run.store.close()


def test_ctrl_c_stops_at_once_without_waiting_for_running_attempts(tmp_path):
    """A signal is not a failure: the drive must not sit out a running attempt (a local call can take minutes).
    Attempt 0 hangs; Ctrl-C arrives as attempt 1 is recorded; the drive returns while 0 still hangs."""
    run = start(tmp_path, n_items=2, concurrency=2)
    release = threading.Event()

    def before(attempt: int) -> None:
        if attempt == 0:
            release.wait(timeout=30)

    def ctrl_c(recorded) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    run.session.method = Steered(run.session.method, before)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        drive_in_threads(run.session, width=2, on_recorded=ctrl_c)
    waited = time.monotonic() - started
    release.set()
    assert waited < 10, f"the drive waited {waited:.1f} s for the hanging attempt"
    assert [item.attempt for item in run.store.items()] == [1]
    run.store.close()
