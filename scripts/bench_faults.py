#!/usr/bin/env python
"""The fault suite's long version; prints figures (issue 12).

1. Runs against the simulated provider with ``--fault-rate`` of requests failing (every kind alike), both
   methods, through the real litellm path: items lost or duplicated, faults met, retries metered against the
   requests the provider saw.
2. Budgets at concurrency 16: ``--trials`` runs each with max_calls, and with max_usd on a model litellm
   prices; the largest overshoot.
3. Model replies fuzzed with hypothesis: cases tried per target and how the attempts ended.

    .venv/bin/python scripts/bench_faults.py [--fault-rate 0.3] [--items 40] [--trials 10] [--fuzz 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCHMAKER_SIM_KEY", "simulated-key")

from benchmaker.config import parse_config  # noqa: E402
from benchmaker.driver import drive_in_threads  # noqa: E402
from benchmaker.run import finish_run, start_run  # noqa: E402
from benchmaker.simulate import FAULT_KINDS, FaultMix, LatencyModel, SimulatedProvider, SimulationSettings  # noqa: E402


def models(provider: SimulatedProvider, model: str = "openai/simulated", timeout_s: float = 2.0) -> dict:
    spec = {
        "model": model,
        "api_base": provider.api_base,
        "api_key_env": "BENCHMAKER_SIM_KEY",
        "response_format": "json_schema",
        "timeout_s": timeout_s,
        "max_tokens": 300,
    }
    return {"generator": spec, "solver": spec, "judge": spec, "panel": [spec]}


def drive(run):  # noqa: ANN001, ANN201 - as the flow does: rolling attempts on `concurrency` threads
    drive_in_threads(run.session, run.config.concurrency)
    return finish_run(run)


def fault_runs(rate: float, items: int, outputs: Path) -> None:
    print(f"## {rate:.0%} injected faults (every kind alike), concurrency 8, latency 0.1 s median")
    print("| method | items | lost | duplicated | provider requests | faults met | retries metered | "
          "calls failed for good | rejections | wall s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method, n_items in (("direct", items), ("benchmaker", max(4, items // 2))):
        faults = FaultMix.spread(rate, retry_after_s=0.05, slow_s=1.2)
        settings = SimulationSettings(seed=21, faults=faults, latency=LatencyModel(ttft_median_s=0.1))
        with SimulatedProvider(settings) as provider:
            config = parse_config(
                {
                    "requirement": {"description": "Two-digit multiplication.", "n_items": n_items},
                    "models": models(provider, timeout_s=1.0),
                    "method": method,
                    "outputs_dir": str(outputs / f"faults-{method}"),
                    "concurrency": 8,
                    "llm": {"max_retries": 6, "max_backoff_s": 0.1},
                    "benchmaker": {"embedder": "hashing", "candidates": 3, "solver_samples": 5},
                    "generation": {"max_attempts_per_item": 5},
                }
            )
            started = time.monotonic()
            run = start_run(config)
            summary = drive(run)
            wall = time.monotonic() - started
            items_found = run.store.items()
            rejections = run.store.rejections()
            attempts = [i.attempt for i in items_found] + [r.attempt for r in rejections]
            ids = [i.id for i in items_found]
            calls = run.store.calls()
            seen = provider.stats.counts()
            met = sum(seen.get(kind, 0) for kind in FAULT_KINDS) + seen.get("client_gone", 0)
            requests = len(provider.stats.entries())
            metered = sum(1 + c.retries for c in calls if not c.cached)
            usage = summary["usage"]
            duplicated = (len(ids) - len(set(ids))) + (len(attempts) - len(set(attempts)))
            lost = max(0, n_items - len(set(ids)))
            print(
                f"| {method} | {len(items_found)}/{n_items} | {lost} | {duplicated} | {requests} "
                f"(metered {metered}) | {met} ({met / requests:.0%}) | {usage['retries']} | {usage['failed_calls']} | "
                f"{dict(Counter(r.reason for r in rejections))} | {wall:.1f} |"
            )
            kinds = {kind: seen.get(kind, 0) for kind in FAULT_KINDS}
            print(f"|  | faults by kind: {kinds}, late replies the client had left: {seen.get('client_gone', 0)} |")


def budget_trials(trials: int, outputs: Path) -> None:
    print("\n## Budgets at concurrency 16 (direct method, latency 0.05 s median)")
    print("| budget | trials | stopped by budget | largest overshoot | spent (min-max) |")
    print("|---|---|---|---|---|")
    settings = SimulationSettings(latency=LatencyModel(ttft_median_s=0.05, ttft_sigma=0.5))
    for label, model, budget in (
        ("max_calls 25", "openai/simulated", {"max_calls": 25}),
        ("max_usd $0.002", "openai/gpt-4o-mini", {"max_usd": 0.002}),
    ):
        stops, overshoot, spent = 0, 0.0, []
        for trial in range(trials):
            with SimulatedProvider(settings) as provider:
                config = parse_config(
                    {
                        "requirement": {"description": "Two-digit multiplication.", "n_items": 200},
                        "models": models(provider, model=model),
                        "method": "direct",
                        "outputs_dir": str(outputs / f"budget-{trial}"),
                        "concurrency": 16,
                        "seed": trial,
                        "budget": budget,
                    }
                )
                summary = drive(start_run(config))
            usage = summary["usage"]
            stops += summary["stop_reason"] == "budget_exhausted"
            if "max_calls" in budget:
                value, limit = usage["calls"], budget["max_calls"]
                assert usage["calls"] == provider.stats.counts().get("ok", 0)
            else:
                value, limit = usage["cost_usd"], budget["max_usd"]
            spent.append(value)
            overshoot = max(overshoot, value - limit)
        fmt = (lambda v: f"{v:g}") if "max_calls" in budget else (lambda v: f"${v:.6f}")
        print(f"| {label} | {trials} | {stops} | {fmt(max(overshoot, 0))} | {fmt(min(spent))}-{fmt(max(spent))} |")


def fuzz(examples: int) -> None:
    os.environ["BENCHMAKER_FUZZ_EXAMPLES"] = str(examples)
    from tests import test_fuzz_replies as fuzzing

    print(f"\n## Fuzzed model replies (hypothesis, {examples} examples asked per target)")
    started = time.monotonic()
    for test in (
        fuzzing.test_fuzzed_replies_end_direct_attempts_as_drafts_or_rejections,
        fuzzing.test_fuzzed_replies_end_benchmaker_attempts_as_drafts_or_rejections,
        fuzzing.test_fuzzed_replies_reach_the_judge_and_end_as_drafts_or_rejections,
        fuzzing.test_fuzzed_panel_answers_are_a_letter_or_none,
        fuzzing.test_fuzzed_programs_are_cleaned_without_raising,
    ):
        test()
    print(f"cases tried: {sum(fuzzing.TRIED.values())} {fuzzing.TRIED} in {time.monotonic() - started:.0f} s; "
          "failures: 0")  # fmt: skip
    for name, endings in fuzzing.ENDINGS.items():
        print(f"- {name}: {dict(sorted(endings.items(), key=lambda kv: -kv[1]))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--items", type=int, default=40, help="direct items; the BenchMaker run makes half")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--fuzz", type=int, default=2000, help="hypothesis examples per target (0: skip)")
    args = parser.parse_args()
    os.environ.setdefault("BENCHMAKER_HOME", tempfile.mkdtemp(prefix="benchmaker-home-"))
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as directory:
        fault_runs(args.fault_rate, args.items, Path(directory))
        budget_trials(args.trials, Path(directory))
    if args.fuzz:
        fuzz(args.fuzz)


if __name__ == "__main__":
    main()
