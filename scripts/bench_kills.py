#!/usr/bin/env python
"""SIGKILL a real ``benchmaker run`` (its whole process group: Prefect's server and all) ``--kills`` times
against the simulated provider with API-like latency, resume it after each kill, and print what was lost,
duplicated and paid twice (issue 12). The CI version is ``tests/test_kills.py`` (3 kills of forked sessions).

    .venv/bin/python scripts/bench_kills.py [--kills 20] [--items 60] [--method benchmaker] [--driver cli]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmaker.simulate import LatencyModel, SimulatedProvider, SimulationSettings  # noqa: E402
from tests.kill_harness import CliSessions, ForkedSessions, kill_and_resume  # noqa: E402

KEY_ENV = "BENCHMAKER_SIM_KEY"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--method", default="benchmaker", choices=["benchmaker", "direct"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ttft", type=float, default=0.3, help="median seconds to first token (lognormal)")
    parser.add_argument("--tokens-per-s", type=float, default=80.0)
    parser.add_argument("--delay", type=float, nargs=2, default=(0.5, 4.0), help="kill this long after a "
                        "session's first request (uniform)")  # fmt: skip
    parser.add_argument("--driver", choices=["cli", "forked"], default="cli")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-kills-"))
    env = {
        **os.environ,
        KEY_ENV: "simulated-key",
        "PREFECT_HOME": str(work / "prefect"),
        "BENCHMAKER_HOME": str(work / "home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(REPO),
    }
    os.environ.update({k: env[k] for k in (KEY_ENV, "BENCHMAKER_HOME", "PREFECT_HOME")})
    latency = LatencyModel(ttft_median_s=args.ttft, ttft_sigma=0.5, tokens_per_s=args.tokens_per_s)
    with SimulatedProvider(SimulationSettings(seed=args.seed, latency=latency)) as provider:
        spec = {
            "model": "openai/simulated",
            "api_base": provider.api_base,
            "api_key_env": KEY_ENV,
            "response_format": "json_schema",
            "timeout_s": 30,
        }
        config = work / "config.yaml"  # JSON is YAML
        config.write_text(
            json.dumps(
                {
                    "requirement": {"description": "Two-digit multiplication.", "n_items": args.items},
                    "models": {"generator": spec, "solver": spec, "judge": spec, "panel": [spec]},
                    "method": args.method,
                    "outputs_dir": str(work / "outputs"),
                    "concurrency": args.concurrency,
                    "seed": args.seed,
                    "benchmaker": {"embedder": "hashing", "candidates": 3, "solver_samples": 5},
                }
            )
        )
        if args.driver == "cli":
            launcher = CliSessions(work / "sessions.log", env, REPO)
        else:
            launcher = ForkedSessions(work / "sessions.log")
        report = kill_and_resume(
            launcher, provider, config, work / "outputs", kills=args.kills, seed=args.seed,
            delay=tuple(args.delay), timeout_s=3600,
        )  # fmt: skip
    print(
        f"# {args.kills} SIGKILLs of `benchmaker run` ({args.driver}), {args.method}, {args.items} items, "
        f"concurrency {args.concurrency}, latency: ttft {args.ttft} s median + {args.tokens_per_s} tok/s"
    )
    print("\n".join(report.lines()))
    print(f"work directory: {work}")


if __name__ == "__main__":
    main()
