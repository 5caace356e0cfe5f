"""The memorisation check's records turned into the ``contamination`` check, item flags, and a gate.

``checks["contamination"]`` of a benchmark: ``value`` is the share of testable items flagged as memorised
by any panel model (Wilson 95% interval); ``details["models"][model]["by_fraction"][fraction]`` has the
mean ROUGE-L (bootstrap 95% interval over items), the exact-match rate and the prefix answer accuracy
(Wilson), each with its n. Flagged items carry ``"memorised"`` in their diagnostics' ``flagged``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from benchmaker.scoring import metrics
from benchmaker.scoring.contamination import ContaminationRecord, ContaminationSettings
from benchmaker.scoring.schema import BenchmarkQuality, Result

NAME = "contamination"
FLAG = "memorised"
BOOTSTRAP = 2000
FLAGGED_IDS_SHOWN = 1000


def bootstrap_mean_interval(values: np.ndarray, seed: int = 0, repeats: int = BOOTSTRAP) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a mean over items; it stays inside the values' range."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("no values")
    if v.size == 1 or np.ptp(v) == 0:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = np.empty(repeats)
    chunk = max(1, 2_000_000 // v.size)  # bounded memory at 10,000 items
    for start in range(0, repeats, chunk):
        stop = min(repeats, start + chunk)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _share(successes: int, n: int) -> dict[str, Any]:
    low, high = metrics.wilson_interval(successes, n)
    return {"value": successes / n, "ci_low": low, "ci_high": high, "n": n}


def flagged_by(records: Iterable[ContaminationRecord], threshold: float) -> dict[str, set[str]]:
    """item id -> the models that flag it (exact match, or ROUGE-L >= threshold, at any fraction)."""
    out: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.check == "complete" and r.error is None and (r.exact or (r.rouge_l or 0.0) >= threshold):
            out[r.item_id].add(r.model)
    return out


def contamination_result(
    bench_name: str,
    item_ids: list[str],
    chance: float,
    records: list[ContaminationRecord],
    models: dict[str, dict[str, Any]],
    settings: ContaminationSettings,
    seed: int = 0,
) -> tuple[Result, dict[str, float], set[str]]:
    """The check for one benchmark, each item's highest ROUGE-L, and the flagged items (for diagnostics).

    ``models`` maps each panel model to facts the report shows beside its figures (the completion mode
    used, whether the model generated this benchmark itself).
    """
    if not settings.enabled:
        return Result.missing(NAME, "disabled (--no-contamination)"), {}, set()
    ids = set(item_ids)
    mine = [r for r in records if r.benchmark == bench_name and r.item_id in ids and r.model in models]
    done = [r for r in mine if r.check == "complete" and r.error is None]
    if not done:
        reason = "no item has a question long enough to cut" if not mine else "every completion call failed"
        return Result.missing(NAME, reason, n_items=len(item_ids), errors=len(mine)), {}, set()
    best: dict[str, float] = {}
    for r in done:
        best[r.item_id] = max(best.get(r.item_id, 0.0), r.rouge_l or 0.0)
    flags = flagged_by(done, settings.rouge_threshold)
    testable = len({r.item_id for r in done})
    per_model: dict[str, Any] = {}
    for model, facts in models.items():
        by_fraction: dict[str, Any] = {}
        for fraction in settings.fractions:
            completions = [r for r in done if r.model == model and r.fraction == fraction]
            answers = [r for r in mine if r.model == model and r.fraction == fraction and r.check == "answer"]
            row: dict[str, Any] = {"n": len(completions)}
            if completions:
                scores = np.array([r.rouge_l for r in completions], dtype=float)
                low, high = bootstrap_mean_interval(scores, seed=seed)
                row["rouge_l"] = {"value": float(scores.mean()), "ci_low": low, "ci_high": high, "n": len(scores)}
                row["exact_match"] = _share(sum(bool(r.exact) for r in completions), len(completions))
            if answers:
                row["prefix_answer_accuracy"] = {
                    **_share(sum(bool(r.correct) for r in answers), len(answers)),
                    "unparsable": sum(r.error is not None for r in answers),
                    "chance": chance,
                }
            by_fraction[f"{fraction:g}"] = row
        flagged_here = sum(model in who for who in flags.values())
        tested = len({r.item_id for r in done if r.model == model})
        per_model[model] = {
            **facts,
            "items_tested": tested,
            "flagged": flagged_here,
            "flag_rate": flagged_here / tested if tested else None,
            "errors": sum(r.error is not None and r.model == model for r in mine if r.check == "complete"),
            "by_fraction": by_fraction,
        }
    n_flagged = len(flags)
    low, high = metrics.wilson_interval(n_flagged, testable)
    fractions = ", ".join(f"{f:.0%}" for f in settings.fractions)
    return (
        Result(
            name=NAME,
            status="ok",
            value=n_flagged / testable,
            ci_low=low,
            ci_high=high,
            method=f"share of {testable} testable items whose question a panel model continues from its first "
            f"{fractions} of words with an exact match or ROUGE-L F1 >= {settings.rouge_threshold:g} "
            "(temperature 0; Wilson 95% interval)",
            details={
                "fractions": list(settings.fractions),
                "rouge_threshold": settings.rouge_threshold,
                "min_remainder_words": settings.min_remainder_words,
                "n_items": len(item_ids),
                "n_testable": testable,
                "n_flagged": n_flagged,
                "flagged_ids": sorted(flags)[:FLAGGED_IDS_SHOWN],
                "models": per_model,
            },
        ),
        best,
        set(flags),
    )


def memorised_ids(quality: BenchmarkQuality) -> set[str]:
    """The items a refresh should drop: flagged as memorised by some panel model."""
    return {item.id for item in quality.items if FLAG in item.flagged}


def contamination_gate(quality: BenchmarkQuality, max_rate: float) -> tuple[bool, str]:
    """Whether a release may go ahead: the share of memorised items is at most ``max_rate``.

    A benchmark whose check could not be computed does not pass: the gate cannot vouch for it.
    """
    result = quality.checks.get(NAME)
    if result is None or result.status != "ok" or result.value is None:
        why = result.reason if result is not None else "the report has no contamination check"
        return False, f"{quality.name}: contamination not measured ({why})"
    verdict = result.value <= max_rate
    word = "within" if verdict else "above"
    return verdict, f"{quality.name}: {result.value:.1%} of items memorised, {word} the limit of {max_rate:.1%}"
