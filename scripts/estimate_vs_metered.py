#!/usr/bin/env python
"""``benchmaker estimate`` against what the run then metered (issue 15); prints a table.

Two runs of one plan, one after the other, in a fresh outputs dir: the first is estimated from the stated
defaults (no earlier run), the second (another seed) from the first run's priors. Each row: the estimate's
calls, tokens, dollars and minutes, then the metered ones (``llm_calls.jsonl``; minutes of wall time).

Against the simulated provider (default; API-like latency, replies of the scripted fake, priced as
gpt-4o-mini), or, with ``--local``, the embedded model (take the shared lock:
``flock /tmp/benchmaker-local-model.lock .venv/bin/python scripts/estimate_vs_metered.py --local --items 3``).

    .venv/bin/python scripts/estimate_vs_metered.py [--items 40] [--concurrency 8] [--method benchmaker]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCHMAKER_SIM_KEY", "simulated-key")

from benchmaker.config import parse_config  # noqa: E402
from benchmaker.driver import drive_in_threads  # noqa: E402
from benchmaker.estimate import estimate  # noqa: E402
from benchmaker.run import finish_run, start_run  # noqa: E402


def drive(run) -> None:  # noqa: ANN001 - as the flow does: rolling attempts on `concurrency` threads
    drive_in_threads(run.session, run.config.concurrency)


def one(data: dict, local_api_base=None) -> tuple[str, object, dict]:  # noqa: ANN001
    config = parse_config(data)
    predicted = estimate(config)
    started = time.monotonic()
    run = start_run(config, local_api_base=local_api_base)
    drive(run)
    summary = finish_run(run)
    calls = run.store.calls()
    metered = {
        "calls": len(calls),
        "tokens": sum(c.input_tokens + c.output_tokens for c in calls),
        "usd": sum(c.cost_usd for c in calls),
        "minutes": (time.monotonic() - started) / 60,
        "items": summary["accepted"],
        "attempts": summary["accepted"] + summary.get("rejected", 0),
    }
    return predicted.priors, predicted, metered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--method", default="benchmaker")
    parser.add_argument("--local", action="store_true", help="The embedded model (flock it, see above).")
    args = parser.parse_args()
    outputs = Path(tempfile.mkdtemp(prefix="estimate-vs-metered-"))
    rows = []

    def plan(api_base: str | None, seed: int) -> dict:
        if args.local:
            spec: object = "local"
        else:
            spec = {
                "model": "openai/gpt-4o-mini",
                "api_base": api_base,
                "api_key_env": "BENCHMAKER_SIM_KEY",
                "response_format": "json_schema",
            }
        return {
            "requirement": {"description": "Two-digit multiplication.", "n_items": args.items},
            "models": {"generator": spec, "solver": spec, "judge": spec, "panel": [spec]},
            "method": args.method,
            "outputs_dir": str(outputs),
            "concurrency": 1 if args.local else args.concurrency,
            "seed": seed,
            "benchmaker": {"embedder": "hashing"},
        }

    if args.local:
        from flows._local import local_endpoint

        with local_endpoint(True) as api_base:
            rows = [one(plan(None, seed), local_api_base=api_base) for seed in (1, 2)]
        where = "the embedded local model"
    else:
        from benchmaker.simulate import LatencyModel, SimulatedProvider, SimulationSettings

        latency = LatencyModel(ttft_median_s=0.6, ttft_sigma=0.4, tokens_per_s=80)
        with SimulatedProvider(SimulationSettings(seed=3, latency=latency)) as provider:
            rows = [one(plan(provider.api_base, seed)) for seed in (1, 2)]
        where = "the simulated provider (ttft 0.6 s lognormal, 80 tok/s, replies of the scripted fake)"
    print(f"## estimate vs metered: {args.method}, {args.items} items, {where}")
    print("| run | priors | calls est. / metered | tokens est. / metered | $ est. / metered | "
          "minutes est. / metered | attempts est. / metered |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for index, (priors, e, m) in enumerate(rows, 1):
        usd = "unknown" if e.usd is None else f"{e.usd:.4f}"
        print(
            f"| {index} | {priors} | {e.calls:.0f} / {m['calls']} | {e.input_tokens + e.output_tokens:.0f} / "
            f"{m['tokens']} | {usd} / {m['usd']:.4f} | {e.minutes:.2f} / {m['minutes']:.2f} | "
            f"{e.attempts:.0f} / {m['attempts']} |"
        )


if __name__ == "__main__":
    main()
