"""Calibration on items with trusted keys: can the judge tell a right key from a wrong one, is the panel above chance?

The trusted set is ``--calibrate FILE``, else a ``--reference`` benchmark. The judge sees a seeded sample of
its items twice with the faithfulness prompt: once with the true key and once with a wrong one (a seeded
other option). Its balanced accuracy at telling them apart is the mean over items of
(true key judged right + wrong key judged wrong) / 2, with a percentile bootstrap interval over items.
When the interval's lower end is not above 0.5, the judge's faithfulness and alignment figures are marked
unreliable. The panel answers the same items; a model whose accuracy interval does not clear the chance
level measures nothing there, and the figures built on the panel's answers carry a warning.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from benchmaker.scoring import metrics
from benchmaker.scoring.benchmarks import LoadedBenchmark, ScoredItem
from benchmaker.scoring.contamination_report import bootstrap_mean_interval
from benchmaker.scoring.judge import JudgeRecord, JudgeUnit
from benchmaker.scoring.schema import Result

PREFIX = "calibration:"
TRUE, WRONG = "true", "wrong"


def calibration_sample(bench: LoadedBenchmark, size: int, seed: int) -> list[ScoredItem]:
    """A seeded sample of ``size`` items (all of them when there are fewer), in file order."""
    items = list(bench.items)
    if len(items) <= size:
        return items
    picked = set(random.Random(f"{seed}|calibration|{bench.name}").sample(range(len(items)), size))
    return [item for i, item in enumerate(items) if i in picked]


def wrong_key(item: ScoredItem, seed: int) -> int:
    others = [i for i in range(len(item.choices)) if i != item.answer_index]
    return random.Random(f"{seed}|wrong|{item.id}").choice(others)


def judge_units(bench: LoadedBenchmark, size: int, seed: int) -> list[JudgeUnit]:
    """Two faithfulness units per sampled item: the true key (with the item's own explanation, as scored)
    and a wrong key (no explanation: a solution argues for one key only)."""
    units = []
    for item in calibration_sample(bench, size, seed):
        wrong = item.model_copy(update={"id": f"{item.id}|{WRONG}", "answer_index": wrong_key(item, seed)})
        wrong = wrong.model_copy(update={"explanation": None})
        true = item.model_copy(update={"id": f"{item.id}|{TRUE}"})
        units += [
            JudgeUnit(PREFIX + bench.name, true, "faithfulness", ""),
            JudgeUnit(PREFIX + bench.name, wrong, "faithfulness", ""),
        ]
    return units


def judge_calibration(source: str, records: list[JudgeRecord], judge: str | None) -> Result:
    name = "judge_calibration"
    if judge is None:
        return Result.missing(name, "no judge configured")
    pairs: dict[str, dict[str, bool]] = {}
    errors = 0
    for r in records:
        item, _, variant = r.item_id.rpartition("|")
        if r.judgement is None:
            errors += 1
            continue
        says_right = r.judgement >= 1
        pairs.setdefault(item, {})[variant] = says_right if variant == TRUE else not says_right
    complete = {k: v for k, v in pairs.items() if TRUE in v and WRONG in v}
    if not complete:
        return Result.missing(name, "no item has both verdicts", source=source, errors=errors)
    hits = np.array([(v[TRUE] + v[WRONG]) / 2 for v in complete.values()])
    n = len(hits)
    low, high = bootstrap_mean_interval(hits)
    tpr = sum(v[TRUE] for v in complete.values())
    tnr = sum(v[WRONG] for v in complete.values())
    reliable = low > 0.5
    details: dict[str, Any] = {
        "source": source,
        "n_items": n,
        "true_key_judged_right": _rate(tpr, n),
        "wrong_key_judged_wrong": _rate(tnr, n),
        "errors": errors,
        "reliable": reliable,
    }
    return Result(
        name=name,
        status="ok",
        value=float(hits.mean()),
        ci_low=low,
        ci_high=high,
        method=f"balanced accuracy of the faithfulness judge on {n} trusted-key items of {source}, each shown "
        "with its true key and with a seeded wrong one (verdict >= 1 = key right); bootstrap 95% interval",
        details=details,
        warning=None
        if reliable
        else f"the judge does not tell right keys from wrong ones clearly better than chance (balanced accuracy "
        f"{hits.mean():.2f} [{low:.2f}, {high:.2f}], n={n}): its faithfulness and alignment figures are unreliable",
    )


def _rate(successes: int, n: int) -> dict[str, float]:
    low, high = metrics.wilson_interval(successes, n)
    return {"value": successes / n, "ci_low": low, "ci_high": high}


def panel_calibration(source: str, accuracy: dict[str, tuple[float, float, float, int]], chance: float) -> Result:
    """``accuracy``: model -> (accuracy, ci_low, ci_high, n items) on the trusted set."""
    name = "panel_calibration"
    if not accuracy:
        return Result.missing(name, "the panel did not answer the trusted-key items", source=source)
    models = {
        m: {"accuracy": a, "ci_low": lo, "ci_high": hi, "n_items": n, "above_chance": lo > chance}
        for m, (a, lo, hi, n) in accuracy.items()
    }
    at_chance = sorted(m for m, v in models.items() if not v["above_chance"])
    return Result(
        name=name,
        status="ok",
        value=(len(models) - len(at_chance)) / len(models),
        method=f"share of panel models whose Wilson 95% accuracy interval on {source} lies above chance ({chance:.3f})",
        details={"source": source, "chance": chance, "models": models, "at_chance": at_chance},
        warning=None
        if not at_chance
        else f"panel model(s) {', '.join(at_chance)} answer the trusted-key items no better than chance: "
        "figures built on their answers measure little",
    )
