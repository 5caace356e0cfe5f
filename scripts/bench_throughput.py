#!/usr/bin/env python
"""Throughput at API scale against the simulated provider (issue 15); prints a table, times nothing in tests.

The provider (``benchmaker.simulate``) answers like the scripted fake with an API-like latency: time to first
token lognormal around ``--ttft`` s (sigma ``--ttft-sigma`` of its log) plus the longest choice's output
tokens at ``--tokens-per-s`` (the fake counts words as tokens). Requests are served in parallel, without limit.

Each row is one run in a child process (its own RSS), from a fresh outputs dir (no cache hits), with the
paper's recipe: 5 candidates, 10 solver answers, program checks and draft checks off (``--programs`` turns the
program check on). Per row:

- items/min and wall s per accepted item (setup included: demand analysis and attributes);
- calls and tokens per accepted item (a call is one request of the client; n samples in one request: one);
- the critical path, from the recorded call latencies: the run-level calls one after another, plus per attempt
  the sum over its dependent stages (one per prompt) of the slowest call of the stage (the calls of one stage
  go out together);
- overhead = wall / (setup path + sum of the attempts' paths / concurrency) - 1: what the client side (threads,
  sandbox, embeddings, records), the waves' stragglers and the CPU add to the latency the method cannot avoid;
- CPU s per accepted item and the peak RSS of the client's process (the provider runs in another process,
  started with ``benchmaker simulate-provider``; one warm-up request before the clock starts).

``--driver flow`` (default) runs the Prefect flow itself (``flows/generate.py``; the ephemeral API is started
before the clock). ``--driver rolling`` runs the flow's loop (``benchmaker.driver``: a new attempt as soon as
one ends) without Prefect.
``--driver wave`` is the flow's driver before it: a wave of attempts, the next wave once all have ended.

    .venv/bin/python scripts/bench_throughput.py [--items 200] [--concurrency 1,8,32,64]
        [--methods direct,benchmaker] [--items-at-1 20] [--driver flow|rolling|wave] [--programs]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCHMAKER_SIM_KEY", "simulated-key")


def config_data(api_base: str, method: str, items: int, concurrency: int, outputs: Path, programs: bool) -> dict:
    spec = {
        "model": "openai/gpt-4o-mini",  # priced by litellm's map; the simulated provider answers any name
        "api_base": api_base,
        "api_key_env": "BENCHMAKER_SIM_KEY",
        "response_format": "json_schema",
        "timeout_s": 60,
    }
    return {
        "requirement": {"description": "Two-digit multiplication.", "n_items": items, "n_options": 4},
        "models": {"generator": spec, "solver": spec, "judge": spec, "panel": [spec]},
        "method": method,
        "outputs_dir": str(outputs),
        "concurrency": concurrency,
        "seed": 1,
        "benchmaker": {
            "embedder": "hashing",
            "candidates": 5,
            "solver_samples": 10,
            "program": {"mode": "on" if programs else "off", "allow_weaker_isolation": True},
            "checks": {"single_question": False, "constraints": False},
        },
    }


def drive_waves(run) -> None:  # noqa: ANN001 - the flow's former driver: each wave on `concurrency` threads
    with ThreadPoolExecutor(max_workers=run.config.concurrency) as pool:
        while attempts := run.session.next_attempts():
            futures = [pool.submit(run.session.run_attempt, a) for a in attempts]
            for future in futures:
                run.session.record(future.result())


def drive_rolling(run) -> None:  # noqa: ANN001 - the flow's driver: a new attempt as soon as one ends
    from benchmaker.driver import drive_in_threads

    drive_in_threads(run.session, run.config.concurrency)


def _stage_path(calls) -> dict[str, float]:  # noqa: ANN001
    """Per stage (one prompt) the slowest of its calls: a stage's calls go out together."""
    slowest: dict[str, float] = {}
    for call in calls:
        slowest[call.prompt_id] = max(slowest.get(call.prompt_id, 0.0), call.latency_s)
    return slowest


def critical_path(calls) -> tuple[float, float, dict[str, float]]:  # noqa: ANN001
    """(run-level path, sum of the attempts' paths, per-stage share of the attempts' paths). Stages of one
    attempt (or of the setup) follow each other; the calls within a stage are independent."""
    setup = sum(_stage_path([c for c in calls if c.attempt is None]).values())
    per_attempt: dict[int, list] = defaultdict(list)
    for call in calls:
        if call.attempt is not None:
            per_attempt[call.attempt].append(call)
    by_stage: dict[str, float] = defaultdict(float)
    for attempt_calls in per_attempt.values():
        for prompt_id, seconds in _stage_path(attempt_calls).items():
            by_stage[prompt_id] += seconds
    return setup, sum(by_stage.values()), dict(by_stage)


def start_provider(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """The simulated provider in its own process, so its CPU and GIL are not the client's."""
    command = [
        sys.executable, "-m", "benchmaker.cli", "simulate-provider", "--seed", "7", "--ttft", str(args.ttft),
        "--ttft-sigma", str(args.ttft_sigma), "--tokens-per-s", str(args.tokens_per_s),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first.split(" at ", 1)[1].split()[0]


def stop_provider(process: subprocess.Popen) -> int:
    """Interrupt it; the number of requests it served (from its last line)."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    counts = out.strip().splitlines()[-1].removeprefix("requests: ")
    return sum(json.loads(counts.replace("'", '"')).values())


def warm_up(api_base: str) -> None:
    """One request before the clock starts: litellm's first call initialises its clients (seconds)."""
    import litellm

    # The provider refuses a prompt it does not know: that is enough.
    with contextlib.suppress(Exception):
        litellm.completion(
            model="openai/gpt-4o-mini", api_base=api_base, api_key="x", messages=[{"role": "user", "content": "hi"}]
        )


def warm_prefect() -> None:
    """Start Prefect's ephemeral API before the clock starts: a run pays that once, not per item."""
    from prefect import flow  # noqa: TID251 - a script that measures the flow itself

    @flow(persist_result=False)
    def nothing() -> None:
        return None

    nothing()


def one_row(args: argparse.Namespace) -> dict:
    from benchmaker.config import parse_config
    from benchmaker.run import finish_run, start_run

    outputs = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    config = parse_config(config_data(args.api_base, args.method, args.items, args.concurrency, outputs, args.programs))
    warm_up(args.api_base)
    if args.driver == "flow":  # the real thing: the Prefect flow, the ephemeral API already up
        from benchmaker.store import RunStore
        from flows.generate import run_generation

        warm_prefect()

        def generate() -> tuple[dict, list]:
            summary = run_generation(config, show_progress=False)
            return summary, RunStore.open(Path(summary["run_dir"])).calls()
    else:

        def generate() -> tuple[dict, list]:
            run = start_run(config)
            (drive_rolling if args.driver == "rolling" else drive_waves)(run)
            return finish_run(run), run.store.calls()

    cpu0, started = time.process_time(), time.monotonic()
    summary, calls = generate()
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu0
    setup, attempts_path, by_stage = critical_path(calls)
    accepted = summary["accepted"]
    ideal = setup + attempts_path / args.concurrency
    return {
        "method": args.method,
        "concurrency": args.concurrency,
        "items": args.items,
        "accepted": accepted,
        "attempts": accepted + summary.get("rejected", 0),
        "wall_s": wall,
        "cpu_s": cpu,
        "calls": len(calls),
        "tokens": sum(c.input_tokens + c.output_tokens for c in calls),
        "usd": sum(c.cost_usd for c in calls),
        "setup_path_s": setup,
        "attempts_path_s": attempts_path,
        "ideal_s": ideal,
        "by_stage": by_stage,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(
        f"## simulated provider: ttft lognormal median {args.ttft} s (sigma {args.ttft_sigma}), "
        f"{args.tokens_per_s:g} tok/s; driver {args.driver}; programs {'on' if args.programs else 'off'}"
    )
    print(
        "| method | concurrency | accepted / attempts | items/min | wall s per accepted | calls per accepted | "
        "provider requests per accepted | tokens per accepted | $ per accepted | "
        "critical path s (setup + attempts/conc.) | overhead | "
        "CPU s per accepted | RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        a = max(1, r["accepted"])
        print(
            f"| {r['method']} | {r['concurrency']} | {r['accepted']} / {r['attempts']} | "
            f"{60 * r['accepted'] / r['wall_s']:.1f} | {r['wall_s'] / a:.2f} | {r['calls'] / a:.2f} | "
            f"{r['requests'] / a:.2f} | {r['tokens'] / a:.0f} | {r['usd'] / a:.5f} | "
            f"{r['ideal_s']:.1f} ({r['setup_path_s']:.1f} + "
            f"{r['attempts_path_s']:.0f}/{r['concurrency']}) | {100 * (r['wall_s'] / r['ideal_s'] - 1):.0f}% | "
            f"{r['cpu_s'] / a:.3f} | {r['rss_mb']:.0f} |"
        )
    print()
    print("critical path per accepted item, by stage (s): ")
    for r in rows:
        a = max(1, r["accepted"])
        stages = ", ".join(f"{k.removeprefix('benchmaker.')} {v / a:.2f}" for k, v in sorted(r["by_stage"].items()))
        print(f"- {r['method']} @ {r['concurrency']}: {stages}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--items-at-1", type=int, default=20, help="Items of the concurrency-1 rows (slow).")
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--methods", default="direct,benchmaker")
    parser.add_argument("--ttft", type=float, default=0.6)
    parser.add_argument("--ttft-sigma", type=float, default=0.4)
    parser.add_argument("--tokens-per-s", type=float, default=80.0)
    parser.add_argument("--driver", choices=("flow", "rolling", "wave"), default="flow")
    parser.add_argument("--programs", action="store_true", help="Program-checked keys on (the sandbox runs).")
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        args.concurrency = int(args.concurrency)
        print(json.dumps(one_row(args)))
        return
    rows = []
    for method in args.methods.split(","):
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            items = args.items_at_1 if concurrency == 1 else args.items
            provider, api_base = start_provider(args)
            command = [
                sys.executable, __file__, "--row", "--method", method, "--concurrency", str(concurrency),
                "--api-base", api_base,
                "--items", str(items), "--ttft", str(args.ttft), "--ttft-sigma", str(args.ttft_sigma),
                "--tokens-per-s", str(args.tokens_per_s), "--driver", args.driver,
                *(["--programs"] if args.programs else []),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            requests = stop_provider(provider)
            if done.returncode != 0:
                print(f"row {method} @ {concurrency} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append({**json.loads(done.stdout.strip().splitlines()[-1]), "requests": requests - 1})
            print(f"done: {method} @ {concurrency}", file=sys.stderr, flush=True)
    print_table(rows, args)


if __name__ == "__main__":
    main()
