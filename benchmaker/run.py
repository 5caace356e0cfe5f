"""Opening, resuming and closing a generation run: the library side of the generation flow."""

from __future__ import annotations

import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from scipy.stats import chisquare

from benchmaker.config import LETTERS, Budget, RunConfig
from benchmaker.errors import StoreError
from benchmaker.generation import GenerationSession, StopReason
from benchmaker.llm.factory import LocalApiBase, build_role_model
from benchmaker.llm.meter import Meter, UsageTotals
from benchmaker.methods import GenerationContext, make_method, roles_of
from benchmaker.prompts import PromptLibrary
from benchmaker.store import RunStore, stored_config_hash
from benchmaker.trust import require_trusted, sign, verifies
from benchmaker.verification.summary import program_summary

_VERSIONED = ("benchmaker", "litellm", "openai", "prefect", "pydantic", "llama_cpp_python", "sentence-transformers")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class Run:
    config: RunConfig
    store: RunStore
    meter: Meter
    session: GenerationSession
    started: float = field(default_factory=time.monotonic)
    calls_before: int = 0
    """Real calls already recorded when this session opened the run (a resume pays only the rest)."""
    cached_before: int = 0


def open_run(
    config: RunConfig,
    store: RunStore,
    *,
    local_api_base: LocalApiBase = None,
    script_dir: Path | None = None,
    prompts: PromptLibrary | None = None,
) -> Run:
    """Build the clients, the method and the session over an existing store."""
    prompts = prompts or PromptLibrary()
    # The budget spans resumes: calls already paid for in this run count against it.
    meter = Meter(config.budget, previous=store.calls())

    models = {
        name: build_role_model(
            name,
            getattr(config.models, name),
            settings=config.llm,
            meter=meter,
            sink=store.append_call,
            cache_dir=store.cache_dir,
            local_api_base=local_api_base,
            script_dir=script_dir,
        )
        for name in roles_of(config)
    }
    context = GenerationContext(config=config, models=models, prompts=prompts, store=store)
    method = make_method(config.method, context)
    session = GenerationSession(config, store, method)
    manifest = store.manifest()
    manifest.update(
        status="running",
        versions=package_versions(),
        prompt_versions=method.prompt_refs(),
        resumes=manifest.get("resumes", -1) + 1,
    )
    manifest.setdefault("stages", {}).setdefault("generate", {}).update(status="running")
    store.write_manifest(manifest)
    totals = meter.snapshot()
    return Run(
        config=config,
        store=store,
        meter=meter,
        session=session,
        calls_before=totals.calls,
        cached_before=totals.cached_calls,
    )


def start_run(config: RunConfig, **kwargs: Any) -> Run:
    store = RunStore.create(config)
    try:
        return open_run(config, store, **kwargs)
    except BaseException:
        store.close()
        raise


def resume_run(
    run_dir: Path,
    *,
    budget: Budget | None = None,
    concurrency: int | None = None,
    trust_run: bool = False,
    **kwargs: Any,
) -> Run:
    """Reopen a run with its own stored config; only the budget and concurrency may change.

    The run's writer lock is held from here until the run is finished or closed: a second process
    resuming the same run meanwhile is refused (StoreError). A run this user did not create (or whose
    config was edited) is refused if it would send credentials anywhere, unless ``trust_run``; once
    trusted, it is signed as this user's.
    """
    store = RunStore.open_for_writing(run_dir)
    try:
        config = store.config()
        manifest = store.manifest()
        stored = manifest.get("config")
        if not isinstance(stored, dict) or manifest.get("config_hash") != stored_config_hash(stored):
            raise StoreError(f"{run_dir}: manifest config hash does not match its config")
        require_trusted(manifest, config, trusted=trust_run, action="refusing to resume")
        if trust_run and not verifies(manifest):
            store.update_manifest(signature=sign(str(manifest.get("run_id", "")), manifest["config"]))
        updates: dict[str, Any] = {}
        if budget is not None:
            updates["budget"] = budget
        if concurrency is not None:
            updates["concurrency"] = concurrency
        if updates:
            config = config.model_copy(update=updates)
        return open_run(config, store, **kwargs)
    except BaseException:
        store.close()
        raise


def answer_balance(items: list[Any], n_options: int) -> dict[str, Any]:
    counts = Counter(item.answer for item in items)
    observed = [counts.get(letter, 0) for letter in LETTERS[:n_options]]
    result: dict[str, Any] = {"counts": dict(zip(LETTERS[:n_options], observed, strict=True))}
    if sum(observed) >= n_options:
        test = chisquare(observed)
        result.update(chi2=round(float(test.statistic), 4), p_value=round(float(test.pvalue), 4))
    return result


def finish_run(run: Run) -> dict[str, Any]:
    """Close the run: status, counts, answer balance and usage go into the manifest and are returned;
    the run's writer lock is released."""
    try:
        return _summarise(run)
    finally:
        run.store.close()


def _summarise(run: Run) -> dict[str, Any]:
    session = run.session
    items = session.items
    usage: UsageTotals = run.meter.snapshot()
    reasons = Counter(r.reason for r in session.rejections)
    attempts = len(session.done_attempts)
    stop = session.stop_reason or StopReason.COMPLETE
    this_session = round(time.monotonic() - run.started, 2)
    # Sessions that were killed never get here, so their wall time is missing from the total;
    # usage.llm_seconds, summed from llm_calls.jsonl, does include them.
    manifest = run.store.manifest()
    previous = manifest.get("summary", {}).get("wall_seconds_total", 0.0)
    summary: dict[str, Any] = dict(
        status="complete" if stop == StopReason.COMPLETE else "stopped",
        stop_reason=str(stop),
        stop_detail=session.stop_detail,
        accepted=len(items),
        target=session.target,
        attempts=attempts,
        rejected=len(session.rejections),
        rejections_by_reason=dict(reasons),
        acceptance_rate=round(len(items) / attempts, 4) if attempts else None,
        answer_balance=answer_balance(items, run.config.requirement.n_options),
        usage=usage.model_dump(),
        calls_this_session=usage.calls - run.calls_before,
        cached_calls_this_session=usage.cached_calls - run.cached_before,
        wall_seconds_this_session=this_session,
        wall_seconds_total=round(previous + this_session, 2),
    )
    labels = [item.difficulty for item in items if item.difficulty is not None]
    if labels:
        summary["difficulty"] = {
            "labelled": len(labels),
            "mean": round(sum(labels) / len(labels), 3),
            "relabelled": sum(bool(item.metadata.get("relabelled")) for item in items),
        }
    if items:
        summary["key_evidence"] = dict(
            Counter(str(item.metadata.get("key_evidence") or "unrecorded") for item in items)
        )
    program = program_summary(items, session.rejections)
    if program is not None:
        summary["program_verification"] = program
    if items:
        summary["per_item"] = {
            "calls": round(usage.calls / len(items), 3),
            "tokens": round((usage.input_tokens + usage.output_tokens) / len(items), 1),
            "cost_usd": round(usage.cost_usd / len(items), 6),
        }
    manifest.update(status=summary["status"], summary=summary)
    manifest.setdefault("stages", {}).setdefault("generate", {}).update(
        status=summary["status"], accepted=len(items), rejected=len(session.rejections), attempts=attempts
    )
    run.store.write_manifest(manifest)
    return summary


def mark_interrupted(store: RunStore, reason: str) -> None:
    store.update_manifest(status="interrupted", interrupted_reason=reason)
