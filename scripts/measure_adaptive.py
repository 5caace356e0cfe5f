#!/usr/bin/env python
"""Adaptive self test-taking against the fixed 10 answers, on the same drafts (issue 15); prints figures.

Each draft's 10 solver answers are replayed: the fixed rule uses all of them, the adaptive rule
(``benchmaker.methods.benchmaker.adaptive``) takes them in its rounds (5, then 5 more, by default) and stops where it
would stop. Replaying the same answers is what a run does up to sampling noise: the answers of one request
are exchangeable draws, so the first k of them are what a request for k would give.

Drafts: ``--runs RUN_DIR ...`` replays the accepted items of recorded runs (their ``solver_answers``); without
runs, a synthetic population of ``--drafts`` drafts (seeded) whose solver accuracy is a stated mixture: 60%
easy (accuracy ~ Beta(8, 1)), 25% medium (Beta(3, 3)), 15% hard or wrongly keyed (Beta(1, 4)); a wrong answer
goes to one rival option 60% of the time, else to a uniform other option; 5% of answers are unparsable.

Figures: the share of drafts with the identical decision (unparsable / conflict: the judge is called /
the solvers' majority is the key), the share with the same label bin, Spearman between adaptive and full
labels, solver answers and tokens per accepted item. Tokens: a solver request costs ``--solver-input``
input tokens and ``--solver-output`` per answer (the prompt is sent once per round); the rest of an attempt
(5 candidates, the judge's two readings on a conflict) costs what ``benchmaker estimate`` states by default.
An attempt counts as accepted unless its answers are unparsable, or it conflicts and the judge rejects it
(``--judge-accepts`` of conflicts are kept).

    .venv/bin/python scripts/measure_adaptive.py [--drafts 2000] [--runs RUN_DIR ...]
        [--confidence 0.8] [--first 5] [--step 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scipy.stats import spearmanr  # noqa: E402

from benchmaker.config import LETTERS, SolverSampling  # noqa: E402
from benchmaker.methods.benchmaker.adaptive import outcome, schedule, settled  # noqa: E402
from benchmaker.methods.benchmaker.self_test import SelfTest  # noqa: E402

N_OPTIONS = 4


def synthetic(count: int, seed: int) -> list[tuple[list[int | None], int]]:
    rng = random.Random(seed)
    drafts = []
    for _ in range(count):
        kind = rng.random()
        accuracy = (
            rng.betavariate(8, 1) if kind < 0.6 else rng.betavariate(3, 3) if kind < 0.85 else rng.betavariate(1, 4)
        )
        key = rng.randrange(N_OPTIONS)
        rival = rng.choice([o for o in range(N_OPTIONS) if o != key])
        votes: list[int | None] = []
        for _ in range(10):
            if rng.random() < 0.05:
                votes.append(None)
            elif rng.random() < accuracy:
                votes.append(key)
            else:
                others = [o for o in range(N_OPTIONS) if o != key]
                votes.append(rival if rng.random() < 0.6 else rng.choice(others))
        drafts.append((votes, key))
    return drafts


def recorded(run_dirs: list[Path]) -> list[tuple[list[int | None], int]]:
    drafts = []
    for run_dir in run_dirs:
        for line in (run_dir / "benchmark.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            answers = item.get("metadata", {}).get("solver_answers")
            if answers and len(answers) >= 10:
                votes = [LETTERS.index(a) if a else None for a in answers[:10]]
                drafts.append((votes, item["answer_index"]))
    return drafts


def adaptive_votes(votes: list[int | None], key: int, sampling: SolverSampling, trigger: str) -> tuple[int, int]:
    """(answers taken, rounds) of the adaptive rule on these answers."""
    taken, rounds = 0, 0
    for size in schedule(sampling, len(votes)):
        taken += size
        rounds += 1
        if settled(votes[:taken], key, N_OPTIONS, len(votes) - taken, trigger, sampling):
            break
    return taken, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=2000)
    parser.add_argument("--runs", type=Path, nargs="*", default=[])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--confidence", type=float, default=SolverSampling().confidence)
    parser.add_argument("--first", type=int, default=SolverSampling().first)
    parser.add_argument("--step", type=int, default=SolverSampling().step)
    parser.add_argument("--trigger", choices=("majority", "any"), default="majority")
    parser.add_argument("--solver-input", type=float, default=353)
    parser.add_argument("--solver-output", type=float, default=200)
    parser.add_argument("--other-tokens", type=float, default=1272 + 2000, help="The candidates' request.")
    parser.add_argument("--judge-tokens", type=float, default=2 * (470 + 300), help="Two readings on a conflict.")
    parser.add_argument("--judge-accepts", type=float, default=0.5)
    args = parser.parse_args()
    sampling = SolverSampling(mode="adaptive", first=args.first, step=args.step, confidence=args.confidence)
    drafts = recorded(args.runs) if args.runs else synthetic(args.drafts, args.seed)
    source = f"{len(drafts)} recorded items of {len(args.runs)} run(s)" if args.runs else f"{len(drafts)} synthetic"
    same_decision = same_bin = 0
    full_labels, adaptive_labels = [], []
    totals = {"fixed": [0.0, 0.0, 0.0], "adaptive": [0.0, 0.0, 0.0]}  # answers, tokens, accepted
    stops: dict[int, int] = {}
    judge_rng = random.Random(args.seed + 1)
    for votes, key in drafts:
        full = SelfTest(votes=votes, reasonings=[""] * len(votes))
        taken, rounds = adaptive_votes(votes, key, sampling, args.trigger)
        stops[taken] = stops.get(taken, 0) + 1
        part = SelfTest(votes=votes[:taken], reasonings=[""] * taken)
        full_out, part_out = (outcome(t, key, args.trigger, sampling.bin_edges) for t in (full, part))
        decision = (full_out.unparsable, full_out.conflict, full_out.majority_is_key)
        same_decision += decision == (part_out.unparsable, part_out.conflict, part_out.majority_is_key)
        same_bin += full_out.label_bin == part_out.label_bin
        if full.difficulty(key) is not None and part.difficulty(key) is not None:
            full_labels.append(full.difficulty(key))
            adaptive_labels.append(part.difficulty(key))
        judge_keeps = judge_rng.random() < args.judge_accepts  # the same judge for both rules
        for rule, test, answers, requests in (("fixed", full, len(votes), 1), ("adaptive", part, taken, rounds)):
            result = outcome(test, key, args.trigger, sampling.bin_edges)
            tokens = args.other_tokens + requests * args.solver_input + answers * args.solver_output
            if result.conflict:
                tokens += args.judge_tokens
            accepted = not result.unparsable and (not result.conflict or judge_keeps)
            totals[rule][0] += answers
            totals[rule][1] += tokens
            totals[rule][2] += accepted
    n = len(drafts)
    rho = spearmanr(full_labels, adaptive_labels).statistic if len(set(full_labels)) > 1 else float("nan")
    print(f"## adaptive self test-taking vs fixed 10 ({source}; confidence {args.confidence}, rounds "
          f"{schedule(sampling, 10)}, bins {list(sampling.bin_edges)}, trigger {args.trigger})")  # fmt: skip
    print(f"- identical decisions (unparsable / conflict / majority is the key): {same_decision / n:.1%}")
    print(f"- same difficulty bin: {same_bin / n:.1%}; Spearman(adaptive, full labels) = {rho:.3f}")
    print(f"- stopped after: {', '.join(f'{k} answers {v / n:.0%}' for k, v in sorted(stops.items()))}")
    print("| rule | solver answers per accepted item | tokens per accepted item | accepted |")
    print("|---|---|---|---|")
    for rule, (answers, tokens, accepted) in totals.items():
        print(f"| {rule} | {answers / accepted:.2f} | {tokens / accepted:.0f} | {accepted / n:.1%} |")
    fixed, adaptive = totals["fixed"], totals["adaptive"]
    solver_fixed = fixed[0] * args.solver_output + n * args.solver_input
    print(
        f"- tokens per accepted item: {1 - (adaptive[1] / adaptive[2]) / (fixed[1] / fixed[2]):.1%} fewer; "
        f"solver answers per accepted item: {1 - (adaptive[0] / adaptive[2]) / (fixed[0] / fixed[2]):.1%} fewer "
        f"(the solver's request is {solver_fixed / fixed[1]:.0%} of a fixed attempt's tokens)"
    )


if __name__ == "__main__":
    main()
