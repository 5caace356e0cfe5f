"""The generation flow: the method's set-up, then its attempts, a new one as soon as one ends; the library
decides what they mean."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from tqdm import tqdm

from benchmaker.config import Budget, RunConfig, parse_config
from benchmaker.driver import drive_in_threads
from benchmaker.generation import GenerationSession
from benchmaker.items import BenchmarkItem, Rejection
from benchmaker.methods import needs_local_model
from benchmaker.run import Run, finish_run, mark_interrupted, resume_run, start_run
from benchmaker.store import RunStore
from flows._local import local_endpoint


# The session is an in-process object shared by the thread pool; our own cache does the caching.
@task(name="prepare-method", cache_policy=NO_CACHE, persist_result=False)
def prepare_method(session: GenerationSession) -> None:
    """Run-level steps (demand analysis, attributes); a resume reloads them from the run."""
    session.prepare()


@task(name="generate-attempts", cache_policy=NO_CACHE, persist_result=False)
def generate_attempts(run: Run, show_progress: bool) -> None:
    """Every attempt to the run's stop, a new one as soon as one ends (``benchmaker.driver``), on
    ``concurrency`` threads. One task, not a task per attempt: Prefect's bookkeeping cost about 11 ms of
    CPU per task run, 4-20 points of overhead at concurrency 32-64 against the simulated provider
    (docs/measurements-perf.md); each attempt's outcome is in the run's files either way."""
    session = run.session
    with tqdm(
        total=session.target,
        initial=len(session.items),
        desc="items",
        unit="item",
        disable=not show_progress,
        file=sys.stderr,
    ) as bar:

        def progress(recorded: BenchmarkItem | Rejection | None) -> None:
            if isinstance(recorded, BenchmarkItem):
                bar.update(1)
            bar.set_postfix(rejected=len(session.rejections), calls=run.meter.snapshot().calls)

        drive_in_threads(session, run.config.concurrency, progress)


@flow(name="generate-benchmark", persist_result=False, log_prints=False)
def generate_benchmark(
    config_data: dict[str, Any] | None = None,
    resume_dir: str | None = None,
    budget: dict[str, Any] | None = None,
    concurrency: int | None = None,
    script_dir: str | None = None,
    show_progress: bool = True,
    trust_run: bool = False,
) -> dict[str, Any]:
    """Generate a new benchmark from ``config_data``, or resume the run in ``resume_dir``."""
    if resume_dir is not None:
        config = RunStore.open(Path(resume_dir)).config()
    else:
        config = parse_config(config_data)
    with local_endpoint(needs_local_model(config)) as api_base:
        options = {"local_api_base": api_base, "script_dir": Path(script_dir) if script_dir else None}
        if resume_dir is not None:
            run = resume_run(
                Path(resume_dir),
                budget=Budget.model_validate(budget) if budget else None,
                concurrency=concurrency,
                trust_run=trust_run,
                **options,
            )
        else:
            run = start_run(config, **options)
        try:
            prepare_method(run.session)
            generate_attempts(run, show_progress)
        except BaseException as error:
            with contextlib.suppress(Exception):  # e.g. a full disk: the first error is the one to report
                mark_interrupted(run.store, type(error).__name__)
            run.store.close()
            raise
        summary = finish_run(run)
    return {"run_dir": str(run.store.run_dir), **summary}


def run_generation(config: RunConfig | None = None, *, resume_dir: Path | None = None, **kwargs: Any) -> dict[str, Any]:
    """Entry point for the CLI: run the flow in-process."""
    if config is None and resume_dir is None:
        raise ValueError("either a config or a run directory to resume is needed")
    return generate_benchmark(
        config_data=config.model_dump(mode="json") if config is not None else None,
        resume_dir=str(resume_dir) if resume_dir is not None else None,
        **kwargs,
    )
