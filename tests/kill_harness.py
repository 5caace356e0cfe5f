"""Kill a run again and again, resume it each time, and count what was lost, duplicated and paid twice.

Shared by the CI test (a few kills of forked sessions, ``tests/test_kills.py``) and
``scripts/bench_kills.py`` (20 kills of the real command line, Prefect included). The provider is the
simulated one, in the calling process, so it sees every request: which were open at each kill, and which
were answered twice (paid twice).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from benchmaker.simulate import FAULT_KINDS, SimulatedProvider
from benchmaker.store import MANIFEST, RunStore


class Handle(Protocol):
    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...


class Launcher(Protocol):
    def start(self, config: Path) -> Handle: ...

    def resume(self, run_dir: Path) -> Handle: ...


class _Forked:
    def __init__(self, process: multiprocessing.Process) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode


class ForkedSessions:
    """Sessions forked from a server that imported benchmaker and litellm once (fast starts, for CI)."""

    def __init__(self, log: Path) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["tests.kill_driver"])
        self.log = log

    def _launch(self, action: str, target: Path) -> Handle:
        from tests.kill_driver import session

        process = self.context.Process(target=session, args=(action, str(target), str(self.log)), daemon=False)
        process.start()
        return _Forked(process)

    def start(self, config: Path) -> Handle:
        return self._launch("start", config)

    def resume(self, run_dir: Path) -> Handle:
        return self._launch("resume", run_dir)


class CliSessions:
    """``benchmaker run`` and ``benchmaker run --resume``: fresh interpreters, Prefect and all."""

    def __init__(self, log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log, self.env, self.cwd = log, env, cwd

    def _launch(self, *args: str) -> Handle:
        with self.log.open("a") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "benchmaker.cli", "run", *args, "--quiet"],
                cwd=self.cwd, env=self.env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip

    def start(self, config: Path) -> Handle:
        return self._launch(str(config))

    def resume(self, run_dir: Path) -> Handle:
        return self._launch("--resume", str(run_dir))


@dataclass
class Kill:
    session: int
    at: float
    delay_s: float
    open_requests: int
    """Requests the provider had received from the killed session and not yet finished answering."""
    in_flight: int
    """Calls the killed session had sent and not stored: still open at the provider, or answered but not
    yet in the cache when the kill came (the client's side of the same moment)."""
    items: int
    repaid: int = 0
    """Requests the killed session sent (answered or not: a provider charges what it generated) that a
    later session sent again."""


@dataclass
class KillReport:
    kills: list[Kill]
    target: int
    items: int
    status: str
    lost: int
    """Items recorded before some kill and missing at the end."""
    duplicated: int
    """Duplicate item ids plus attempts recorded twice (as items or rejections)."""
    requests: int
    answered: int
    repaid: int
    sessions: int
    wall_s: float
    refusals: list[str] = field(default_factory=list)
    """What a second writer was told while a session was live."""

    @property
    def repaid_within_in_flight(self) -> bool:
        return all(kill.repaid <= kill.in_flight for kill in self.kills)

    def lines(self) -> list[str]:
        rows = [
            f"kills: {len(self.kills)}, sessions: {self.sessions}, wall {self.wall_s:.0f} s; "
            f"final status {self.status}, items {self.items}/{self.target}",
            f"items lost: {self.lost}; duplicated: {self.duplicated}",
            f"provider requests: {self.requests}, answered: {self.answered}, sent again after a kill (re-paid): "
            f"{self.repaid}",
            f"re-paid <= in flight at every kill: {self.repaid_within_in_flight}",
            "per kill (session: killed after s; calls in flight (open at the provider); re-paid; items then):",
        ]
        rows += [
            f"  {k.session}: {k.delay_s:.2f} s; {k.in_flight} in flight ({k.open_requests} open); {k.repaid} re-paid; "
            f"{k.items} items"
            for k in self.kills
        ]
        return rows


def _wait_for(predicate: Callable[[], bool], handle: Handle, deadline: float) -> bool:
    while not predicate():
        if handle.poll() is not None or time.monotonic() > deadline:
            return predicate()
        time.sleep(0.005)
    return True


def _item_ids(run_dir: Path) -> set[str]:
    return {item.id for item in RunStore.open(run_dir).items()}


def _stored_replies(run_dir: Path) -> set[str]:
    """The provider's reply ids of every completion in the run's LLM cache."""
    import diskcache

    from benchmaker.llm.types import Completion
    from benchmaker.store import llm_cache_dir

    directory = llm_cache_dir(run_dir.parent.parent)
    if not directory.exists():
        return set()
    with diskcache.Cache(str(directory)) as cache:
        ids = [Completion.model_validate_json(cache[key]).response_id for key in cache.iterkeys()]
    return {one for joined in ids for one in joined.split(",") if one}


def kill_and_resume(
    launcher: Launcher,
    provider: SimulatedProvider,
    config: Path,
    outputs: Path,
    *,
    kills: int,
    seed: int,
    delay: tuple[float, float] = (0.2, 1.5),
    timeout_s: float = 600,
    while_live: Callable[[Path, Handle], str] | None = None,
) -> KillReport:
    """Start the run, SIGKILL its process group ``kills`` times (each a random ``delay`` after the session's
    first request reached the provider), resume after each, then let the last session finish."""
    rng = random.Random(seed)
    runs = outputs / "runs"
    begun = time.monotonic()
    deadline = begun + timeout_s
    run_dir: Path | None = None
    starts: list[float] = []
    done: list[Kill] = []
    snapshots: list[set[str]] = []
    refusals: list[str] = []
    while True:
        session = len(starts)
        starts.append(time.monotonic())
        handle = launcher.start(config) if run_dir is None else launcher.resume(run_dir)
        first = starts[-1]
        _wait_for(lambda: any(e.started >= first for e in provider.stats.entries()), handle, deadline)  # noqa: B023
        if run_dir is None:
            _wait_for(lambda: runs.is_dir() and any(runs.glob(f"*/{MANIFEST}")), handle, deadline)
            run_dir = next(runs.glob(f"*/{MANIFEST}")).parent
        if while_live is not None and handle.poll() is None:
            refusals.append(while_live(run_dir, handle))
        if len(done) == kills:
            handle.wait(max(1.0, deadline - time.monotonic()))
            break
        pause = rng.uniform(*delay)
        time.sleep(pause)
        if handle.poll() is not None:  # it finished before its kill: the run is done
            break
        at = time.monotonic()
        os.killpg(handle.pid, signal.SIGKILL)
        handle.wait(60)
        dead = time.monotonic()
        ids = _item_ids(run_dir)
        snapshots.append(ids)
        # Every request the session made: one it sent between `at` and the signal's delivery is in flight too.
        entries = [e for e in provider.stats.entries() if first <= e.started <= dead]
        still_open = [e.ended is None or e.ended > at for e in entries]
        stored = _stored_replies(run_dir)
        lost = [e.outcome == "ok" and e.reply not in stored for e in entries]
        done.append(
            Kill(
                session=session,
                at=at,
                delay_s=pause,
                open_requests=sum(still_open),
                in_flight=sum(o or gone for o, gone in zip(still_open, lost, strict=True)),
                items=len(ids),
            )
        )
    assert run_dir is not None
    return _report(run_dir, provider, starts, done, snapshots, refusals, time.monotonic() - begun)


def _report(
    run_dir: Path,
    provider: SimulatedProvider,
    starts: list[float],
    kills: list[Kill],
    snapshots: list[set[str]],
    refusals: list[str],
    wall_s: float,
) -> KillReport:
    store = RunStore.open(run_dir)
    items, rejections = store.items(), store.rejections()
    ids = [item.id for item in items]
    attempts = [item.attempt for item in items] + [r.attempt for r in rejections]
    final = set(ids)
    lost = len(set().union(*snapshots) - final) if snapshots else 0
    duplicated = (len(ids) - len(final)) + (len(attempts) - len(set(attempts)))

    def session_of(started: float) -> int:
        return max(index for index, start in enumerate(starts) if start <= started)

    entries = provider.stats.entries()
    answered: dict[str, list[int]] = defaultdict(list)
    sent: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        if entry.outcome == "ok":
            answered[entry.key].append(session_of(entry.started))
        if entry.outcome not in FAULT_KINDS:  # a provider charges what it generates, delivered or not
            sent[entry.key].append(session_of(entry.started))
    for kill in kills:
        kill.repaid = sum(kill.session in sessions and max(sessions) > kill.session for sessions in sent.values())
    manifest = store.manifest()
    return KillReport(
        kills=kills,
        target=store.config().requirement.n_items,
        items=len(items),
        status=str(manifest.get("status")),
        lost=lost,
        duplicated=duplicated,
        requests=len(entries),
        answered=sum(len(sessions) for sessions in answered.values()),
        repaid=sum(kill.repaid for kill in kills),
        sessions=len(starts),
        wall_s=wall_s,
        refusals=refusals,
    )
