"""The one test on the real embedded model: the README's main path, end to end.

CLI -> Prefect flow (its temporary server, as a user's first run has) -> llama.cpp -> the BenchMaker
method with every step and program-verified keys -> a free ``--resume`` -> ``score`` beside MMLU items
with the local model as panel and judge. Sized for CI (<= 10 min on two cores): one item of a
computable requirement (value first, as the README's example), two candidates, two solver answers.
Everything else the local model once checked in tests is pinned by scripted tests or measured by
scripts (see docs/measurements.md).
"""

import json
from pathlib import Path

import pytest

from benchmaker.answer_checks import check_arithmetic
from benchmaker.evidence import is_program_backed
from benchmaker.methods.benchmaker.attributes import load_attributes
from benchmaker.methods.benchmaker.plan import PlanBook
from benchmaker.scoring.schema import QualityReport
from benchmaker.store import RunStore
from tests.conftest import REPO, write_config
from tests.test_cli import cli

pytestmark = pytest.mark.local_model

REQUIREMENT = (
    "Fraction arithmetic: add or subtract two fractions with denominators up to 12. The question is the "
    'expression alone, written out, for example "What is 3/4 + 5/6?". The answer is a simplified fraction or a '
    "whole number. Four options."
)
# Every call the method makes at run level, and the ones every attempt makes before it can be rejected.
RUN_LEVEL = {
    "benchmaker.demand_analysis",
    "benchmaker.computability",
    "benchmaker.propose_attributes",
    "benchmaker.merge_attributes",
    "benchmaker.difficulty_attributes",
}


def test_the_readme_main_path_on_the_local_model(tmp_path):
    local = {"model": "local", "max_tokens": 500}
    config = write_config(
        tmp_path,
        requirement={"description": REQUIREMENT, "n_items": 1, "n_options": 4},
        models={"generator": local, "solver": {"model": "local", "max_tokens": 300}, "judge": local, "panel": [local]},
        method="benchmaker",
        benchmaker={
            "attribute_proposals": 1,
            "min_general_attributes": 3,
            "min_difficulty_attributes": 2,
            "candidates": 2,
            "solver_samples": 2,
            "references": 2,
            "program": {"order": "value_first"},  # as examples/fractions.yaml, the README's main command
        },
        generation={"max_attempts_per_item": 3},
        seed=31,
    )
    result = cli("run", str(config), "--quiet", timeout=1200)
    # 0: the item was accepted; 3: every attempt was turned down, each with its reason. Both are data.
    assert result.returncode in (0, 3), result.stdout + result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    store = RunStore.open(run_dir)
    items, rejections, calls = store.items(), store.rejections(), store.calls()

    # Run level: demand analysis with its constraints, the computability vote, AttrPrompt, the strategy bank.
    attributes = load_attributes(run_dir / "attributes.yaml")
    assert attributes.demand is not None and attributes.demand.task and attributes.demand.computable is True
    assert len(attributes.general) >= 3 and len(attributes.difficulty) >= 2
    prompts = {call.prompt_id for call in calls}
    assert prompts >= RUN_LEVEL and "benchmaker.generate" in prompts and "benchmaker.write_program" in prompts
    assert all(call.model == "local" and not call.cached and call.output_tokens > 0 for call in calls)
    manifest = store.manifest()
    assert manifest["stages"]["program_verification"]["enabled"] is True
    assert "llama_cpp_python" in manifest["versions"]

    # Per attempt: a plan with a strategy and attributes, and one recorded outcome each.
    attempts = sorted([i.attempt for i in items] + [r.attempt for r in rejections])
    assert attempts == list(range(len(attempts))) and 1 <= len(attempts) <= 3
    plans = PlanBook(store).plans
    assert sorted(plans) == attempts and all(p.strategy and p.general for p in plans.values())
    for rejection in rejections:
        assert rejection.stage in {"generate", "diversity", "check", "program", "discrimination", "self_test",
                                   "policy", "llm"} and rejection.reason  # fmt: skip
    for item in items:  # an accepted item went through every step
        meta = item.metadata
        assert is_program_backed(meta["key_evidence"]) and len(meta["program"]["programs"]) >= 2
        assert len(meta["solver_answers"]) == 2 and 1 <= meta["difficulty"] <= 11
        assert meta["draft_check"]["verdict"] is not None and meta["solution"]
        # The key, checked by an independent evaluation of the question's expression (not the pipeline).
        check = check_arithmetic(item.question, item.choices, item.answer_index)
        assert check.status != "wrong", (item.question, item.choices, item.answer, check.detail)
    print("\nlocal e2e:", json.dumps({"items": len(items), "rejections": [r.reason for r in rejections],
                                      "calls": len(calls)}))  # fmt: skip

    resumed = cli("run", "--resume", str(run_dir), "--quiet", timeout=600)
    assert resumed.returncode == result.returncode, resumed.stderr
    assert len(store.calls()) == len(calls)  # nothing paid twice: run level and attempts come from the run

    # Scored beside three human-made MMLU items, the local model as panel and judge. Not fewer: the
    # length-debiased judge fit needs more judged items than its three coefficients (two gave not_computable).
    mmlu = REPO.parent / "shared" / "data" / "mmlu-test" / "high_school_mathematics_test.csv"
    if not mmlu.exists():  # a clone away from shared/: three hand-made items in MMLU's format instead
        mmlu = tmp_path / "human.csv"
        mmlu.write_text(
            "What is 7 x 8?,54,56,58,64,B\nWhat is 9 + 16?,25,24,26,35,A\nWhat is 1/2 + 1/4?,3/4,2/6,1/3,2/4,A\n"
        )
    scored_paths = [str(run_dir)] if items else []
    scored = cli(
        "score", *scored_paths, str(mmlu), "--limit", "3", "--panel", "local", "--judge", "local",
        "--outputs-dir", str(tmp_path / "outputs"), "--quiet", timeout=1200,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout + scored.stderr
    report = Path(scored.stdout.strip().splitlines()[-1])
    quality = QualityReport.model_validate_json((report.parent / "quality.json").read_text())
    assert quality.panel == ["local"] and quality.judge == "local"
    assert [b.kind for b in quality.benchmarks] == (["generated"] if items else []) + ["imported"]
    for bench in quality.benchmarks:
        assert bench.panel_accuracy[0].n_items == len(bench.items)
        assert bench.criteria["faithfulness"].status == "ok"  # the local judge's verdicts were read
    if items:
        assert quality.benchmarks[0].checks["key_evidence"].status == "ok"
    assert "<html" in report.read_text()[:500].lower()
