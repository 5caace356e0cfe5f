"""Checks of a benchmark's artefacts, beyond the paper's ten criteria: answer positions, the longest-option and
choices-only baselines, item discrimination and panel separability. Pure functions, arrays in, :class:`Result`
out, like :mod:`benchmaker.scoring.metrics` (whose helpers they share)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats

from benchmaker.config import LETTERS
from benchmaker.scoring.metrics import _as_matrix, wilson_interval
from benchmaker.scoring.schema import Result


def answer_position_balance(
    answer_indices: list[int], n_options: int | Sequence[int], seed: int = 0, simulations: int = 20_000
) -> Result:
    """Goodness of fit of the answer positions against "each item's key uniform over its own options".

    ``n_options`` is one count for all items or one per item (MMLU-Pro mixes 3 to 10 options). Items are
    grouped by their option count; the statistic is the sum over groups of Pearson's chi-square of the
    group's key counts against n_k / k, with sum(k - 1) degrees of freedom. When an expected count is
    below 5 the chi-square approximation is poor and the p-value is a seeded Monte Carlo estimate from
    ``simulations`` benchmarks drawn under uniform keys. The value is the p-value.
    """
    name = "answer_position_balance"
    n = len(answer_indices)
    ks = [int(n_options)] * n if isinstance(n_options, int) else [int(k) for k in n_options]
    if len(ks) != n:
        raise ValueError(f"{len(ks)} option counts for {n} answers")
    if any(not 0 <= i < k for i, k in zip(answer_indices, ks, strict=True)):
        raise ValueError("answer indices must lie in [0, n_options)")
    widest = max(ks, default=int(n_options) if isinstance(n_options, int) else 0)
    if n < max(widest, 2):
        return Result.missing(name, f"{n} items, fewer than the {widest} options", n=n)
    keys, options = np.asarray(answer_indices, dtype=int), np.asarray(ks, dtype=int)
    groups = {int(k): np.bincount(keys[options == k], minlength=int(k)) for k in np.unique(options)}
    chi2 = sum(float(((c - c.sum() / k) ** 2).sum() / (c.sum() / k)) for k, c in groups.items())
    dof = sum(k - 1 for k in groups)
    min_expected = min(c.sum() / k for k, c in groups.items())
    if min_expected >= 5:
        p = float(stats.chi2.sf(chi2, dof))
        how = f"chi-square with {dof} dof"
    else:
        rng = np.random.default_rng(seed)
        simulated = np.zeros(simulations)
        for k, c in groups.items():
            draws = rng.multinomial(int(c.sum()), [1 / k] * k, size=simulations)
            expected = c.sum() / k
            simulated += ((draws - expected) ** 2).sum(axis=1) / expected
        p = float((1 + np.sum(simulated >= chi2 - 1e-9)) / (simulations + 1))
        how = (
            f"Monte Carlo p-value from {simulations} simulated benchmarks (an expected count is {min_expected:.2g} < 5)"
        )
    counts = np.bincount(keys, minlength=widest)
    expected_share = [sum(c.sum() / k for k, c in groups.items() if j < k) / n for j in range(widest)]
    mixed = f"option counts {sorted(groups)}, " if len(groups) > 1 else ""
    return Result(
        name=name,
        status="ok",
        value=p,
        method=f"goodness of fit of key positions vs uniform over each item's options ({mixed}n={n}); {how}; "
        "value = p-value",
        details={
            "counts": {LETTERS[i]: int(c) for i, c in enumerate(counts)},
            "expected_share": {LETTERS[i]: float(e) for i, e in enumerate(expected_share)},
            "by_option_count": {str(k): [int(x) for x in c] for k, c in groups.items()},
            "chi2": float(chi2),
            "dof": int(dof),
            "n": int(n),
            "p_value_method": "chi2" if min_expected >= 5 else "monte_carlo",
        },
    )


def longest_option_baseline(choices: list[list[str]], answer_indices: list[int]) -> Result:
    """Accuracy of always picking the longest option (in characters; the first longest on ties), Wilson CI.

    Far above chance means the keys can be found without reading the question.
    """
    name = "longest_option_baseline"
    if len(choices) != len(answer_indices):
        raise ValueError(f"{len(choices)} choice lists for {len(answer_indices)} answers")
    n = len(choices)
    if n == 0:
        return Result.missing(name, "no items")
    hits = uniquely_longest = 0
    for options, answer in zip(choices, answer_indices, strict=True):
        lengths = np.array([len(o.strip()) for o in options])
        hits += int(np.argmax(lengths) == answer)  # argmax returns the first longest
        uniquely_longest += int(lengths[answer] == lengths.max() and np.sum(lengths == lengths.max()) == 1)
    low, high = wilson_interval(hits, n)
    return Result(
        name=name,
        status="ok",
        value=hits / n,
        ci_low=low,
        ci_high=high,
        method=f"accuracy of picking the first longest option (characters), n={n}; Wilson 95% interval",
        details={
            "chance": float(np.mean([1 / len(o) for o in choices])),
            "share_answer_uniquely_longest": uniquely_longest / n,
            "n": n,
        },
    )


def choices_only_baseline(correctness_by_model: dict[str, list[float]], n_options: list[int]) -> Result:
    """Mean accuracy over panel models answering with the question hidden; compare with the chance level."""
    name = "choices_only_baseline"
    per_model = {m: float(np.mean(v)) for m, v in correctness_by_model.items() if len(v)}
    if not per_model or not n_options:
        return Result.missing(name, "no choices-only answers")
    n_items = max(len(v) for v in correctness_by_model.values())
    return Result(
        name=name,
        status="ok",
        value=float(np.mean(list(per_model.values()))),
        method=f"mean choices-only accuracy over {len(per_model)} models, {n_items} items",
        details={
            "per_model": per_model,
            "chance": float(np.mean([1 / k for k in n_options])),
            "n_models": len(per_model),
            "n_items": int(n_items),
        },
    )


def item_discrimination(correctness: np.ndarray, threshold: float = -0.2) -> tuple[Result, list[float | None]]:
    """Point-biserial (Pearson) r between each item's correctness across models and the models' rest-score.

    The rest-score is a model's total over the other items, so the item does not correlate with itself.
    An item with r < ``threshold`` is answered by the weak models and missed by the strong ones: its key is
    likely wrong. r is undefined (None) where the item or the rest-score is the same for every model.
    """
    name = "item_discrimination"
    c = _as_matrix(correctness, name)
    n, k = c.shape
    if k < 3:
        return Result.missing(name, f"panel of {k} model(s); a correlation needs at least 3", n_models=k), [None] * n
    rest = c.sum(axis=0, keepdims=True) - c  # items x models
    xc = c - c.mean(axis=1, keepdims=True)
    rc = rest - rest.mean(axis=1, keepdims=True)
    ss = (xc**2).sum(axis=1) * (rc**2).sum(axis=1)
    defined = ss > 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(defined, (xc * rc).sum(axis=1) / np.sqrt(np.where(defined, ss, 1.0)), np.nan)
    per_item = [float(v) if ok else None for v, ok in zip(r, defined, strict=True)]
    if not defined.any():
        return Result.missing(name, "every item is answered alike by all models", n_models=k, n_items=n), per_item
    flagged = [i for i, v in enumerate(per_item) if v is not None and v < threshold]
    return Result(
        name=name,
        status="ok",
        value=float(np.nanmean(r)),
        method=f"point-biserial r(item, rest-score) over K={k} models, mean of {int(defined.sum())} of {n} "
        f"items; flag r < {threshold}",
        details={
            "n_defined": int(defined.sum()),
            "n_flagged": len(flagged),
            "flagged_indices": flagged,
            "threshold": float(threshold),
        },
    ), per_item


def panel_separability(accuracies: list[tuple[str, float, float, float]]) -> Result:
    """Share of model pairs whose accuracy intervals do not overlap: can the benchmark tell models apart?"""
    name = "panel_separability"
    if len(accuracies) < 2:
        return Result.missing(name, f"{len(accuracies)} model(s); separability needs at least 2")
    pairs = [
        {"a": ma, "b": mb, "separable": bool(hi_a < lo_b or hi_b < lo_a)}
        for (ma, _, lo_a, hi_a), (mb, _, lo_b, hi_b) in combinations(accuracies, 2)
    ]
    share = sum(p["separable"] for p in pairs) / len(pairs)
    return Result(
        name=name,
        status="ok",
        value=share,
        method=f"share of {len(pairs)} model pairs with disjoint 95% intervals, {len(accuracies)} models",
        details={"pairs": pairs, "spread": float(np.std([acc for _, acc, _, _ in accuracies]))},
    )
