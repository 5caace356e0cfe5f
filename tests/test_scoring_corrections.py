"""Scoring corrections (issue 14) and calibration on trusted keys, each with the expected value worked out by hand.

Corrections 2, 3 and 7 are tested with the metrics in test_metrics.py; 1, 4, 5 and 6 here.
"""

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from benchmaker.config import parse_config
from benchmaker.embeddings import HashingEmbedder
from benchmaker.items import CallRecord
from benchmaker.prompts import PromptLibrary
from benchmaker.run import start_run
from benchmaker.scoring import metrics
from benchmaker.scoring.benchmarks import LoadedBenchmark, ScoredItem, load_benchmark
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.judge import judge_unit
from benchmaker.scoring.panel import PanelRecord, answer_unit
from benchmaker.scoring.quality import PanelView, build_report, model_accuracies
from benchmaker.scoring.run_checks import call_costs, efficiency
from benchmaker.scoring.settings import ScoreSettings
from tests.conftest import drive


def _score(job):
    settings = job.settings
    panel, judge, meter = job.open_models(None)
    prompts = PromptLibrary()
    for unit in job.panel_units():
        job.record_panel(answer_unit(unit, panel[unit.model], prompts, settings.samples, settings.seed))
    for unit in [*job.judge_units(), *job.calibration_units()]:
        record = judge_unit(unit, judge, prompts, settings.max_repairs)
        (job.record_calibration if unit.benchmark.startswith("calibration:") else job.record_judgment)(record)
    return build_report(job, HashingEmbedder(), usage=meter.snapshot().model_dump())


def _skills(tmp_path, skills):
    names = []
    for skill in skills:
        path = tmp_path / f"skill{skill}.yaml"
        path.write_text(f"skill: {skill}\n")
        names.append(f"scripted:{path}")
    return names


def _products(tmp_path, name, pairs):
    path = tmp_path / name
    rows = [
        {
            "question": f"What is {a} multiplied by {b}?",
            "choices": [str(a * b + 1), str(a * b), str(a + b), "0"],
            "answer": 1,
        }
        for a, b in pairs
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _direct_run(tmp_path, **overrides):
    data = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": 6, "n_options": 4},
        "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
        "outputs_dir": str(tmp_path / "out"),
        "method": "direct",
        "seed": 5,
        **overrides,
    }
    run = start_run(parse_config(data))
    drive(run)
    return run.store.run_dir


# -------------------- 1. efficiency


def _call(hash_, *, cached, cost=0.0, first=None, known=True, latency=0.0, first_latency=0.0):
    return CallRecord(
        role="generator",
        model="m",
        prompt_id="p",
        request_hash=hash_,
        cached=cached,
        cost_usd=cost,
        cost_known=known,
        latency_s=latency,
        first_latency_s=first_latency,
        first_cost_usd=first,
    )


def test_each_request_counts_once_at_its_first_call_price():
    records = [
        _call(
            "a", cached=False, cost=0.01, first=0.01, latency=3.0, first_latency=3.0
        ),  # paid, then the run was killed
        _call("a", cached=True, first=0.01, first_latency=3.0),  # replayed on resume: not paid twice
        _call("b", cached=True, first=0.02, first_latency=5.0),  # filled by an earlier run's shared cache
        _call("c", cached=False, known=False, latency=2.0, first_latency=2.0),  # a model litellm cannot price
        _call("d", cached=True, first=None),  # logged before first-call prices were recorded
    ]
    costs = call_costs(records)
    assert costs["usd_paid"] == pytest.approx(0.01)
    assert costs["usd_first_call_prices"] == pytest.approx(0.03)
    assert (costs["calls"], costs["real_calls"], costs["cached_calls"], costs["unpriced_calls"]) == (5, 2, 3, 1)
    assert costs["distinct_requests"] == 4 and costs["cached_without_first_price"] == 1
    assert costs["llm_seconds_first_call"] == pytest.approx(3.0 + 5.0 + 2.0)


def test_a_run_replayed_from_the_shared_cache_is_not_reported_as_free(tmp_path):
    # Correction 1: the same config and seed twice in one outputs dir: the second run pays nothing, and
    # efficiency used to report $0 per item as an ordinary value.
    price = tmp_path / "priced.yaml"
    price.write_text("usd_per_call: 0.001\n")
    models = {"generator": f"scripted:{price}", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]}
    first = load_benchmark(_direct_run(tmp_path, models=models))
    # (another attempt limit: a run directory of its own, the same requests)
    again = load_benchmark(_direct_run(tmp_path, models=models, generation={"max_attempts_per_item": 4}))
    paid, replayed = efficiency(first), efficiency(again)
    assert paid.value == pytest.approx(0.001)  # one call per accepted item, $0.001 each
    assert replayed.details["usd_paid_per_item"] == 0.0
    assert replayed.value == pytest.approx(0.001)
    assert replayed.details["cached_calls"] == replayed.details["calls"] == 6
    assert "cache replays" in replayed.method
    assert replayed.details["minutes_per_item"] == pytest.approx(paid.details["minutes_per_item"])


def test_unpriced_calls_make_the_dollars_a_lower_bound(tmp_path):
    bench = load_benchmark(_direct_run(tmp_path))
    log = [json.loads(line) for line in Path(bench.call_log).read_text().splitlines()]
    log[0]["cost_known"] = False
    Path(bench.call_log).write_text("\n".join(json.dumps(r) for r in log) + "\n")
    result = efficiency(bench)
    assert result.details["unpriced_calls"] == 1
    assert "lower bound" in result.warning


# -------------------- 4. separability intervals per item


def test_accuracy_intervals_count_items_not_samples():
    # Correction 4: 10 items, 4 samples each, a model right on items 0-5 every time. Its 40 answers are
    # 4 copies of 10 observations: the interval is Wilson(6, 10), not Wilson(24, 40).
    items = tuple(ScoredItem(id=f"i{k}", question=f"q{k}?", choices=("a", "b"), answer_index=0) for k in range(10))
    bench = LoadedBenchmark(name="b", source="b", kind="imported", items=items)
    records = [
        PanelRecord(benchmark="b", item_id=f"i{k}", model="m", sample=s, mode="full", answer_index=0, correct=k < 6)
        for k in range(10)
        for s in range(4)
    ]
    (acc,) = model_accuracies(PanelView(records, bench, ["m"], "full"), samples=4)
    assert acc.accuracy == pytest.approx(0.6)
    assert (acc.ci_low, acc.ci_high) == pytest.approx(metrics.wilson_interval(6, 10))
    assert acc.ci_high - acc.ci_low > metrics.wilson_interval(24, 40)[1] - metrics.wilson_interval(24, 40)[0] + 0.1


# -------------------- 5. the reference joins the judge's length-debiasing pool


def test_the_reference_is_judged_and_joins_the_debiasing_pool(tmp_path):
    generated = _direct_run(tmp_path)
    reference = _products(tmp_path, "human.jsonl", [(12, 13), (21, 14), (33, 17), (41, 19), (25, 25), (17, 16)])
    settings = ScoreSettings(
        panel=[{"model": "scripted"}],
        judge={"model": "scripted"},
        reference=reference,
        outputs_dir=tmp_path / "scores",
        embedding_model="hashing",
        choices_only=False,
        contamination={"enabled": False},
    )
    job = ScoreJob([generated], settings)
    assert {u.benchmark for u in job.judge_units()} == {job.benchmarks[0].name, "reference:human"}
    report = _score(job)
    pooled = report.judge_debiasing["faithfulness"]
    assert pooled.details["n_benchmarks"] == 2 and pooled.details["n"] == 12
    assert set(pooled.details["other_benchmarks"]) == {"reference:human"}
    assert report.benchmarks[0].criteria["faithfulness"].warning is None
    # alone, the same benchmark says its "debiased" value is not debiased
    alone = ScoreJob([generated], settings.model_copy(update={"reference": None, "outputs_dir": tmp_path / "alone"}))
    assert "one benchmark" in _score(alone).benchmarks[0].criteria["faithfulness"].warning


# -------------------- 6. a BenchMaker-method run scored end to end


def test_a_benchmaker_method_run_scored_end_to_end_has_controllability_and_boundary(tmp_path):
    solver = tmp_path / "solver.yaml"
    solver.write_text("skill: 0.6\n")
    config = parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 12, "n_options": 4},
            "models": {
                "generator": "scripted",
                "solver": f"scripted:{solver}",
                "judge": "scripted",
                "panel": ["scripted"],
            },
            "outputs_dir": str(tmp_path / "out"),
            "seed": 11,
            "benchmaker": {"embedder": "hashing", "references": 2, "solver_samples": 6, "program": {"mode": "off"}},
        }
    )
    run = start_run(config)
    drive(run)
    panel = _skills(tmp_path, (0.9, 0.6, 0.3))
    settings = ScoreSettings(
        panel=[{"model": m} for m in panel],
        judge=None,
        samples=2,
        outputs_dir=tmp_path / "scores",
        embedding_model="hashing",
        contamination={"enabled": False},
    )
    job = ScoreJob([run.store.run_dir], settings)
    quality = _score(job).benchmarks[0]

    # independently: labels from benchmark.jsonl, error rates from panel.jsonl
    items = [json.loads(line) for line in (run.store.run_dir / "benchmark.jsonl").read_text().splitlines()]
    labels = np.array([item["metadata"]["difficulty"] for item in items], dtype=float)
    assert len(items) == 12 and len(set(labels)) > 2, "the solver's errors must spread the labels"
    answers = [json.loads(line) for line in (job.dir / "panel.jsonl").read_text().splitlines()]
    errors = np.array(
        [
            1 - np.mean([a["correct"] for a in answers if a["item_id"] == item["id"] and a["mode"] == "full"])
            for item in items
        ]
    )
    rho = stats.spearmanr(labels, errors).statistic
    control = quality.criteria["difficulty_controllability"]
    assert control.status == "ok" and control.value == pytest.approx(rho)
    assert control.ci_low == pytest.approx(math.tanh(math.atanh(rho) - 1.959964 * 1.06 / math.sqrt(9)), abs=1e-6)

    # the hardest 10% by label: 2 places; every way of breaking ties at the cut-off, averaged
    k = math.ceil(0.1 * 12)
    order = sorted(range(12), key=lambda i: -labels[i])
    cutoff = labels[order[k - 1]]
    above = [i for i in range(12) if labels[i] > cutoff]
    tied = [i for i in range(12) if labels[i] == cutoff]
    picks = [above + list(c) for c in combinations(tied, k - len(above))]
    expected = np.mean([errors[p].mean() for p in picks])
    boundary = quality.criteria["difficulty_boundary"]
    assert boundary.status == "ok" and boundary.value == pytest.approx(expected)
    assert boundary.details["n_labelled"] == 12


# -------------------- calibration on trusted keys


def _calibrated(tmp_path, judge, panel, **extra):
    trusted = _products(tmp_path, "trusted.jsonl", [(a, a + 7) for a in range(11, 31)])
    settings = ScoreSettings(
        panel=[{"model": m} for m in panel],
        judge={"model": judge},
        calibrate=trusted,
        calibration_items=12,
        outputs_dir=tmp_path / "scores",
        embedding_model="hashing",
        contamination={"enabled": False},
        **extra,
    )
    return _score(ScoreJob([_direct_run(tmp_path)], settings))


def test_a_judge_that_checks_keys_is_calibrated(tmp_path):
    # The scripted judge knows multiplication: it gives 2 to a right key and 0 to a wrong one.
    report = _calibrated(tmp_path, "scripted", ["scripted"])
    calibration = report.calibration["judge_calibration"]
    assert calibration.status == "ok" and calibration.value == 1.0
    assert calibration.details["n_items"] == 12 and calibration.details["reliable"] is True
    assert calibration.warning is None
    assert report.benchmarks[0].criteria["faithfulness"].warning is None or "calibr" not in (
        report.benchmarks[0].criteria["faithfulness"].warning
    )
    assert report.calibration["panel_calibration"].value == 1.0


def test_a_judge_that_always_says_right_is_marked_unreliable(tmp_path):
    yes = tmp_path / "yes.yaml"
    verdicts = [json.dumps({"analysis": " ".join(["fine"] * (1 + k % 7)), "judgement": 2}) for k in range(60)]
    yes.write_text(yaml.safe_dump({"responses": {"judge.faithfulness": verdicts}}))
    report = _calibrated(tmp_path, f"scripted:{yes}", _skills(tmp_path, (0.0,)))
    calibration = report.calibration["judge_calibration"]
    # true keys all judged right (1), wrong keys never judged wrong (0): balanced accuracy 0.5 exactly
    assert calibration.value == 0.5
    assert calibration.details["true_key_judged_right"]["value"] == 1.0
    assert calibration.details["wrong_key_judged_wrong"]["value"] == 0.0
    assert "unreliable" in calibration.warning
    for criterion in ("faithfulness", "alignment"):
        assert "unreliable" in report.benchmarks[0].criteria[criterion].warning
    # a panel model that is always wrong is at chance (below it): panel-built figures carry the warning
    panel = report.calibration["panel_calibration"]
    assert panel.value == 0.0 and panel.details["at_chance"] == list(panel.details["models"])
    assert report.benchmarks[0].checks["item_discrimination"].status == "not_computable"  # a panel of one
    assert "no better than chance" in report.benchmarks[0].checks["choices_only_baseline"].warning
