#!/usr/bin/env python
"""The memorisation check and judge calibration measured on a real model (default: the embedded local model).

Prints, per set and prefix fraction, mean ROUGE-L, exact-match rate and prefix answer accuracy with 95%
intervals and the share of items flagged as memorised; the positive control (items shown in full in the
model's context just before their prefix must be flagged); the false-positive rate on questions written
after the model's release; and the judge's balanced accuracy at telling true keys from wrong ones on MMLU.
Every call goes through the LLM seam and its cache under --outputs-dir, so a second run replays for free.

    flock /tmp/benchmaker-local-model.lock .venv/bin/python scripts/measure_contamination.py \
        --generated outputs/runs/<run> [--steps contamination,control,calibration]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmaker.config import Budget, LLMSettings, ModelSpec  # noqa: E402
from benchmaker.llm.factory import build_role_model  # noqa: E402
from benchmaker.llm.meter import Meter  # noqa: E402
from benchmaker.prompts import PromptLibrary  # noqa: E402
from benchmaker.scoring import calibration  # noqa: E402
from benchmaker.scoring.benchmarks import LoadedBenchmark, load_benchmark  # noqa: E402
from benchmaker.scoring.contamination import ContaminationSettings, run_unit, units_for  # noqa: E402
from benchmaker.scoring.contamination_report import contamination_result, flagged_by  # noqa: E402
from benchmaker.scoring.judge import judge_unit  # noqa: E402
from benchmaker.store import llm_cache_dir  # noqa: E402

MMLU = next((p for p in (REPO.parent / "shared", REPO.parent.parent / "shared") if p.is_dir()), REPO.parent / "shared")
MMLU = MMLU / "data" / "mmlu-test"
POST_RELEASE = REPO / "scripts" / "contamination" / "post_release_2026.jsonl"
POST_NAME = "post-release-2026"


def _fmt(entry: dict | None) -> str:
    if not entry:
        return "—"
    return f"{entry['value']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"


def _mmlu(subjects: list[str], per_subject: int) -> LoadedBenchmark:
    items = []
    for subject in subjects:
        bench = load_benchmark(MMLU / f"{subject}_test.csv", per_subject)
        items += list(bench.items)
    return LoadedBenchmark(name="mmlu", source=f"MMLU {', '.join(subjects)}", kind="imported", items=tuple(items))


@contextlib.contextmanager
def _endpoint(model: str):
    if model != "local":
        yield None
        return
    from benchmaker.local.server import local_model

    with local_model() as endpoint:
        yield endpoint.api_base


def _check(sets, role, prompts, settings, mode, seed):
    rows = {}
    for bench in sets:
        started = time.monotonic()
        # the post-release set measures false positives, which need completions only
        here = settings.model_copy(update={"answer_check": False}) if bench.name == POST_NAME else settings
        units = units_for(bench.name, bench.items, {role.spec.model: mode}, here)
        records = [run_unit(u, role, prompts, settings, seed) for u in units]
        chance = sum(1 / len(i.choices) for i in bench.items) / len(bench.items)
        facts = {role.spec.model: {"mode": mode}}
        result, _, _ = contamination_result(bench.name, [i.id for i in bench.items], chance, records, facts, settings)
        rows[bench.name] = (result, time.monotonic() - started, len(units), records)
        _print_check({bench.name: rows[bench.name]}, role.spec.model, settings)  # as each set finishes
    return rows


def _print_check(rows, model, settings):
    print("\n## Memorisation check (partial-prompt completion)")
    print(
        f"threshold: exact match or ROUGE-L >= {settings.rouge_threshold}; remainder >= {settings.min_remainder_words}"
    )
    header = "| set | items (testable) | fraction | n | mean ROUGE-L [95%] | EM rate [95%] | prefix answer acc [95%]"
    print(header + " | chance |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (result, _, _, _) in rows.items():
        d = result.details
        for fraction, row in d["models"][model]["by_fraction"].items():
            acc = row.get("prefix_answer_accuracy")
            print(
                f"| {name} | {d['n_items']} ({d['n_testable']}) | {fraction} | {row['n']} | {_fmt(row.get('rouge_l'))} "
                f"| {_fmt(row.get('exact_match'))} | {_fmt(acc)} | {acc['chance'] if acc else 0:.3f} |"
            )
    print("\n| set | flagged as memorised [95%] | calls | seconds |")
    print("|---|---|---|---|")
    for name, (result, seconds, calls, _) in rows.items():
        value = f"{result.value:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}]" if result.status == "ok" else "n/a"
        print(
            f"| {name} | {result.details.get('n_flagged', 0)}/{result.details.get('n_testable', 0)} = {value} "
            f"| {calls} | {seconds:.0f} |"
        )


def _control(benches, role, prompts, settings, mode, seed, others: int):
    """Each item's question shown in full (among ``others`` other questions of its set, shuffled) before its prefix."""
    out = {}
    for bench in benches:
        started = time.monotonic()
        questions = [i.question for i in bench.items]
        records = []
        for index, item in enumerate(bench.items):
            rng = random.Random(f"{seed}|control|{item.id}")
            shown = rng.sample([q for j, q in enumerate(questions) if j != index], min(others, len(questions) - 1))
            shown.insert(rng.randrange(len(shown) + 1), item.question)
            context = "\n\n".join(shown)
            for unit in units_for(f"control:{bench.name}", [item], {role.spec.model: mode}, settings, context=context):
                records.append(run_unit(unit, role, prompts, settings, seed))
        out[bench.name] = (records, time.monotonic() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=Path, help="A run directory of items the project generated.")
    parser.add_argument("--model", default="local")
    parser.add_argument("--judge", default=None, help="Judge model (default: --model).")
    parser.add_argument("--subjects", default="high_school_chemistry,high_school_biology")
    parser.add_argument("--per-subject", type=int, default=30)
    parser.add_argument("--control-items", type=int, default=20, help="Items per set in the positive control.")
    parser.add_argument("--calibration-items", type=int, default=20)
    parser.add_argument("--steps", default="contamination,control,calibration")
    parser.add_argument("--mode", choices=["raw_completion", "chat_continue"], default="raw_completion")
    parser.add_argument("--outputs-dir", type=Path, default=REPO / "outputs" / "measure-contamination")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    settings = ContaminationSettings()
    prompts = PromptLibrary()
    mmlu = _mmlu(args.subjects.split(","), args.per_subject)
    post = load_benchmark(POST_RELEASE).model_copy(update={"name": POST_NAME})
    sets = [mmlu]
    if args.generated:
        generated = load_benchmark(args.generated)
        sets.append(generated.model_copy(update={"name": f"generated ({generated.generator_model} wrote it)"}))
    sets.append(post)
    started = time.monotonic()
    with _endpoint(args.model) as api_base:
        meter = Meter(Budget())

        def role(name: str, model: str, max_tokens: int):
            return build_role_model(
                name,
                ModelSpec(model=model, max_tokens=max_tokens),
                settings=LLMSettings(),
                meter=meter,
                sink=None,
                cache_dir=llm_cache_dir(args.outputs_dir),
                local_api_base=api_base,
            )

        examinee = role("examinee", args.model, 16)
        print(f"# Memorisation check and judge calibration on {args.model} ({args.mode})")
        if "contamination" in steps:
            rows = _check(sets, examinee, prompts, settings, args.mode, args.seed)
            print("\n# All sets")
            _print_check(rows, args.model, settings)
            post_records = rows[post.name][3]
        if "control" in steps:
            control_sets = [b.model_copy(update={"items": b.items[: args.control_items]}) for b in (mmlu, post)]
            controls = _control(control_sets, examinee, prompts, settings, args.mode, args.seed, others=2)
            print("\n## Positive control: the question shown in full (among 2 others) just before its prefix")
            print("| set | items flagged | completions flagged | mean ROUGE-L | seconds |")
            print("|---|---|---|---|---|")
            for name, (records, seconds) in controls.items():
                done = [r for r in records if r.error is None]
                items = {r.item_id for r in done}
                flagged = flagged_by(done, settings.rouge_threshold)
                hits = sum(bool(r.exact) or (r.rouge_l or 0) >= settings.rouge_threshold for r in done)
                mean = sum(r.rouge_l or 0 for r in done) / max(1, len(done))
                print(f"| {name} | {len(flagged)}/{len(items)} | {hits}/{len(done)} | {mean:.3f} | {seconds:.0f} |")
            if "contamination" in steps:
                print("\n## Threshold sensitivity: post-release false positives vs positive-control hits")
                print("| ROUGE-L threshold | post-release items flagged (false positives) | control items flagged |")
                print("|---|---|---|")
                control_done = [r for recs, _ in controls.values() for r in recs if r.error is None]
                for threshold in (0.5, 0.6, 0.75, 0.9):
                    fp = flagged_by([r for r in post_records if r.check == "complete" and r.error is None], threshold)
                    tp = flagged_by(control_done, threshold)
                    n_post = len({r.item_id for r in post_records if r.check == "complete" and r.error is None})
                    n_ctl = len({r.item_id for r in control_done})
                    print(f"| {threshold} | {len(fp)}/{n_post} | {len(tp)}/{n_ctl} |")
        if "calibration" in steps:
            judge = role("judge", args.judge or args.model, 400)
            t0 = time.monotonic()
            units = calibration.judge_units(mmlu, args.calibration_items, args.seed)
            records = [judge_unit(u, judge, prompts, max_repairs=2) for u in units]
            result = calibration.judge_calibration(mmlu.source, records, judge.spec.model)
            print(f"\n## Judge calibration ({judge.spec.model}) on {result.details.get('n_items')} MMLU items")
            if result.status == "ok":
                d = result.details
                print(f"balanced accuracy {result.value:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}]")
                print(
                    f"true key judged right {_fmt(d['true_key_judged_right'])}; "
                    f"wrong key judged wrong {_fmt(d['wrong_key_judged_wrong'])}; errors {d['errors']}"
                )
                print(f"report says: {result.warning or 'judge calibrated: faithfulness and alignment shown as is'}")
            else:
                print(f"not computable: {result.reason}")
            print(f"seconds: {time.monotonic() - t0:.0f}")
    usage = meter.snapshot()
    print(
        f"\nreal calls {usage.calls}, cached {usage.cached_calls}, LLM seconds {usage.llm_seconds:.0f}, "
        f"wall {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
