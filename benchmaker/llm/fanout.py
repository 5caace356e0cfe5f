"""Independent calls of one attempt issued together, where the provider allows it.

An API serves dozens of requests at once: the n samples it cannot batch, the judge's two swapped
readings and the k programs then cost one round trip instead of several. The embedded model's server
answers one request at a time, so for it (and for the scripted fake, whose tests read the call order)
the calls stay one after another, in order, exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MAX_THREADS = 16
"""Threads one fan-out may use; more independent calls than this queue behind them."""


def together(calls: Sequence[Callable[[], T]], *, parallel: bool) -> list[T]:
    """The results of ``calls`` in their order.

    Serial (``parallel`` false, or one call): one after another, and the first exception stops the rest,
    as a plain loop would. Parallel: every call runs on its own thread; once all have ended, the first
    exception in call order is raised, so the outcome does not depend on which thread finished first.
    A fresh pool per fan-out: nested fan-outs (programs whose calls sample n) cannot starve each other.
    """
    if not parallel or len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(len(calls), MAX_THREADS), thread_name_prefix="fanout") as pool:
        futures = [pool.submit(call) for call in calls]
        errors = [future.exception() for future in futures]  # waits for every call
    for error in errors:
        if error is not None:
            raise error
    return [future.result() for future in futures]
