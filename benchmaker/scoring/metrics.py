"""The quality criteria and checks as pure functions: arrays in, :class:`Result` out.

No I/O, no LLM calls, no Prefect. Sampling is seeded, so every figure is reproducible. A function that cannot
compute its figure returns ``Result.missing`` with the reason; it never returns a made-up number.
Definitions follow ``method.md`` section 2 (the BenchMaker evaluation framework).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist
from sklearn.decomposition import PCA

from benchmaker.scoring.schema import Result

Z95 = 1.959963984540054  # two-sided 95% normal quantile

# Scripts written without spaces: each character is one token, so Chinese and Japanese are tokenised at all.
_CJK = (
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff\u31f0-\u31ff"  # Katakana and its phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han: extension A, unified, compatibility
    "\U00020000-\U0002fa1f"  # Han: extensions B-F and compatibility supplement
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"  # Hangul: jamo, compatibility jamo, syllables
)
# A word is a run of letters/digits (no underscore, no CJK), optionally joined by inner apostrophes: "don't".
_WORD = rf"(?:(?![{_CJK}])[^\W_])+"
TOKEN_PATTERN = re.compile(rf"[{_CJK}]|{_WORD}(?:['’]{_WORD})*")
"""One word: a Han, kana or Hangul character, or a run of letters and digits with inner apostrophes."""


# -------------------- helpers


def _fisher_ci(r: float, se: float) -> tuple[float, float]:
    """95% interval for a correlation from the Fisher z transform with standard error ``se``."""
    with np.errstate(divide="ignore"):
        z = np.arctanh(np.clip(r, -1.0, 1.0))
    return float(np.tanh(z - Z95 * se)), float(np.tanh(z + Z95 * se))


def _is_constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.max(np.abs(x)))))


def _as_matrix(correctness: np.ndarray, name: str) -> np.ndarray:
    """Validate an items x models correctness matrix with values in [0, 1]."""
    c = np.asarray(correctness, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"{name}: correctness must be items x models, got shape {c.shape}")
    if c.size and (not np.all(np.isfinite(c)) or c.min() < 0 or c.max() > 1):
        raise ValueError(f"{name}: correctness values must lie in [0, 1]")
    return c


def _labelled(labels: Sequence[float | None], error_rates: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The (label, error rate) pairs of the items that carry a finite difficulty label."""
    if len(labels) != len(error_rates):
        raise ValueError(f"{len(labels)} labels for {len(error_rates)} error rates")
    keep = [i for i, d in enumerate(labels) if d is not None and math.isfinite(d)]
    d = np.array([labels[i] for i in keep], dtype=float)
    a = np.array([error_rates[i] for i in keep], dtype=float)
    return d, a


# -------------------- diversity


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens with punctuation dropped; every Han, kana or Hangul character is one token."""
    return TOKEN_PATTERN.findall(text.lower())


def common_token_budget(token_counts: list[int], cap: int = 2000, floor: int = 50) -> int | None:
    """The one token budget for benchmarks compared side by side: the smallest count, capped at ``cap``.

    None when the smallest benchmark has fewer than ``floor`` tokens: entropy on so few tokens says nothing.
    """
    if not token_counts:
        return None
    budget = min(min(token_counts), cap)
    return budget if budget >= floor else None


def lexical_diversity(texts: list[str], token_budget: int, repeats: int = 50, seed: int = 0) -> Result:
    """Length-controlled word-frequency entropy (bits).

    Estimator: pool the tokens of all texts, draw ``token_budget`` tokens without replacement ``repeats``
    times, and average the plug-in Shannon entropy of the draws; the interval is the 2.5-97.5 percentile of
    the draws. A fixed budget removes plug-in entropy's growth with corpus size, so benchmarks scored with the
    same budget compare. Details also give the plug-in and Miller-Madow entropies of all tokens.
    """
    name = "lexical_diversity"
    tokens = [t for text in texts for t in tokenize(text)]
    total = len(tokens)
    if token_budget < 1 or repeats < 1:
        raise ValueError("token_budget and repeats must be positive")
    if total < token_budget:
        return Result.missing(
            name,
            f"{total} tokens, fewer than the budget of {token_budget}",
            total_tokens=total,
            token_budget=token_budget,
        )
    _, codes = np.unique(np.array(tokens, dtype=object), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            stats.entropy(np.bincount(codes[rng.choice(total, size=token_budget, replace=False)]), base=2)
            for _ in range(repeats)
        ]
    )
    counts = np.bincount(codes)
    plugin_all = float(stats.entropy(counts, base=2))
    # Miller-Madow: add (observed types - 1) / 2N nats, converted to bits.
    miller_madow = plugin_all + (len(counts) - 1) / (2 * total * math.log(2))
    low, high = np.percentile(draws, [2.5, 97.5])
    return Result(
        name=name,
        status="ok",
        value=float(draws.mean()),
        ci_low=float(low),
        ci_high=float(high),
        method=f"plug-in word entropy (bits) of {token_budget} tokens drawn without replacement, "
        f"mean of {repeats} draws from {total} tokens; 95% percentile interval",
        details={
            "token_budget": int(token_budget),
            "repeats": int(repeats),
            "total_tokens": int(total),
            "miller_madow": float(miller_madow),
            "plugin_all_tokens": plugin_all,
        },
    )


def mean_pairwise_unit_distance(unit: np.ndarray, block: int = 1024) -> float:
    """Mean Euclidean distance over all pairs of unit vectors: |a - b| = sqrt(2 - 2 a.b), from the Gram matrix
    in row blocks (matrix products, one BLAS thread). ``pdist`` over 10,000 items took 16.5 s on two busy
    cores; this agrees with it to about 1e-12 and takes a few seconds."""
    from threadpoolctl import threadpool_limits

    n = unit.shape[0]
    total = 0.0
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, n, block):
            rows = unit[start : start + block]
            gram = rows @ unit[start:].T  # this block against itself and every later row
            distances = np.sqrt(np.clip(2.0 - 2.0 * gram, 0.0, None))
            # pairs (i, j) with j > i: the strict upper triangle of the block's square, then everything after it
            size = rows.shape[0]
            total += float(np.triu(distances[:, :size], k=1).sum()) + float(distances[:, size:].sum())
    return total / (n * (n - 1) / 2)


def semantic_diversity(embeddings: np.ndarray, model_name: str) -> Result:
    """Mean pairwise Euclidean distance between L2-normalised item embeddings (method.md 2.2(5))."""
    name = "semantic_diversity"
    e = np.asarray(embeddings, dtype=float)
    if e.ndim != 2:
        raise ValueError(f"embeddings must be items x dim, got shape {e.shape}")
    n, dim = e.shape
    if n < 2:
        return Result.missing(name, f"{n} item(s); a distance needs at least 2", model_name=model_name, n_items=n)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if np.any(norms == 0):
        return Result.missing(
            name, "an embedding is the zero vector and cannot be normalised", model_name=model_name, n_items=n
        )
    value = mean_pairwise_unit_distance(e / norms)
    return Result(
        name=name,
        status="ok",
        value=value,
        method=f"mean pairwise Euclidean distance of L2-normalised {model_name} embeddings, n={n}, dim={dim}",
        details={"model_name": model_name, "n_items": int(n), "dim": int(dim)},
    )


def knowledge_diversity(correctness: np.ndarray) -> Result:
    """Mean pairwise Euclidean distance between items' panel-correctness vectors, divided by sqrt(K).

    Each item's knowledge embedding is its correctness across the K panel models; dividing by sqrt(K) keeps
    the value in [0, 1] and comparable across panel sizes (method.md 2.2(6)).
    """
    name = "knowledge_diversity"
    c = _as_matrix(correctness, name)
    n, k = c.shape
    if k < 2:
        return Result.missing(
            name, "panel of one model: correctness patterns need at least 2 models", n_items=n, n_models=k
        )
    if n < 2:
        return Result.missing(name, f"{n} item(s); a distance needs at least 2", n_items=n, n_models=k)
    value = float(pdist(c, "euclidean").mean() / math.sqrt(k))
    return Result(
        name=name,
        status="ok",
        value=value,
        method=f"mean pairwise Euclidean distance of panel-correctness vectors / sqrt(K), n={n}, K={k}",
        details={"n_items": int(n), "n_models": int(k)},
    )


# -------------------- difficulty


def difficulty_controllability(labels: list[float | None], error_rates: list[float]) -> Result:
    """Spearman rho between difficulty labels and panel error rates over the labelled items.

    The interval is Fisher z with the Fieller-Hartley-Pearson standard error 1.06 / sqrt(n - 3).
    """
    name = "difficulty_controllability"
    d, a = _labelled(labels, error_rates)
    n = len(d)
    if n == 0:
        return Result.missing(name, "no item carries a difficulty label", n=0)
    if n < 5:
        return Result.missing(name, f"only {n} labelled items; need at least 5", n=n)
    if _is_constant(d):
        return Result.missing(name, "every item has the same difficulty label", n=n)
    if _is_constant(a):
        return Result.missing(name, "every item has the same panel error rate", n=n)
    rho, p = stats.spearmanr(d, a)
    low, high = _fisher_ci(float(rho), 1.06 / math.sqrt(n - 3))
    return Result(
        name=name,
        status="ok",
        value=float(rho),
        ci_low=low,
        ci_high=high,
        method=f"Spearman rho(label, panel error rate), n={n}; Fisher z interval, SE 1.06/sqrt(n-3)",
        details={"n": int(n), "p_value": float(p)},
    )


def _top_mean(rank_by: np.ndarray, values: np.ndarray, k: int) -> float:
    """Mean of ``values`` on the ``k`` items ranked highest by ``rank_by``, without order bias on ties.

    Items strictly above the cut-off rank are all in; the items tied at the cut-off share the places left
    equally (each weighs places / tied): the expected mean over a uniformly random tie-break, so the
    result does not depend on the items' order in the file.
    """
    order = np.argsort(-rank_by, kind="stable")
    cutoff = rank_by[order[k - 1]]
    above, tied = rank_by > cutoff, rank_by == cutoff
    places = k - int(above.sum())
    return float((values[above].sum() + places * values[tied].mean()) / k)


def difficulty_boundary(labels: list[float | None], error_rates: list[float], fraction: float = 0.1) -> Result:
    """Mean panel error rate on the hardest ``ceil(fraction * n)`` items by difficulty label.

    n is the number of labelled items. ``by_actual_error`` ranks the same pool by actual error instead: the
    upper bound the labels could reach. Without labels it is still reported, over all items.
    """
    name = "difficulty_boundary"
    if not 0 < fraction <= 1:
        raise ValueError("fraction must lie in (0, 1]")
    d, a = _labelled(labels, error_rates)
    if len(d) == 0:
        all_a = np.asarray(error_rates, dtype=float)
        if all_a.size == 0:
            return Result.missing(name, "no items", fraction=fraction)
        k_all = math.ceil(fraction * all_a.size)
        return Result.missing(
            name,
            "no item carries a difficulty label",
            fraction=fraction,
            n_subset=k_all,
            by_actual_error=_top_mean(all_a, all_a, k_all),
        )
    k = math.ceil(fraction * len(d))
    return Result(
        name=name,
        status="ok",
        value=_top_mean(d, a, k),
        method=f"mean panel error rate on the top {fraction:.0%} by label ({k} of {len(d)} labelled items; "
        "items tied at the cut-off label share the remaining places equally)",
        details={
            "by_actual_error": _top_mean(a, a, k),
            "fraction": float(fraction),
            "n_subset": int(k),
            "n_labelled": int(len(d)),
        },
    )


# -------------------- benchmark level


def pearson_agreement(name: str, a: dict[str, float], b: dict[str, float]) -> Result:
    """Pearson r between two model-accuracy vectors over the models present in both.

    Used for effectiveness (generated vs human benchmark) and robustness (original vs rewritten demand).

    The interval is Fisher z with SE 1 / sqrt(n - 3); with exactly 3 models it is undefined and left out.
    """
    models = sorted(
        m
        for m in set(a) & set(b)
        if a[m] is not None and b[m] is not None and math.isfinite(a[m]) and math.isfinite(b[m])
    )
    n = len(models)
    x = np.array([a[m] for m in models], dtype=float)
    y = np.array([b[m] for m in models], dtype=float)
    pairs = [[m, float(a[m]), float(b[m])] for m in models]
    if n < 3:
        return Result.missing(name, f"{n} model(s) in common; a correlation needs at least 3", models=models, n=n)
    if _is_constant(x) or _is_constant(y):
        return Result.missing(name, "every model has the same accuracy on one side", models=models, n=n, pairs=pairs)
    r, p = stats.pearsonr(x, y)
    low, high = _fisher_ci(float(r), 1 / math.sqrt(n - 3)) if n > 3 else (None, None)
    return Result(
        name=name,
        status="ok",
        value=float(r),
        ci_low=low,
        ci_high=high,
        method=f"Pearson r of model accuracies over {n} common models; Fisher z interval"
        + ("" if n > 3 else " undefined for n=3"),
        details={"models": models, "n": int(n), "p_value": float(p), "pairs": pairs},
    )


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion of ``successes`` out of ``n`` (successes may be fractional)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs n > 0")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# -------------------- map


def project_2d(embeddings: np.ndarray) -> np.ndarray:
    """2-D PCA projection of the item embeddings for the report's map; zeros when n < 3."""
    e = np.asarray(embeddings, dtype=float)
    n = e.shape[0]
    out = np.zeros((n, 2))
    if n < 3 or e.ndim != 2 or e.shape[1] == 0:
        return out
    k = min(2, e.shape[1])
    from threadpoolctl import threadpool_limits

    # Exact PCA from the (dim x dim) covariance, on one BLAS thread: the full SVD of the (n x dim) matrix
    # with BLAS threads fighting over two busy cores took 7.5 s for 1,000 items (0.02 s like this).
    with threadpool_limits(limits=1, user_api="blas"):
        out[:, :k] = PCA(n_components=k, svd_solver="covariance_eigh").fit_transform(e)
    return out
