"""Length-debiased judge scores (method.md 2.1(3)): the paper's linear fit, and a bounded logistic one.

The paper regresses the judge's score on the length of its analysis with one intercept per benchmark and
reads each benchmark's intercept as its debiased score. A linear fit can put that score and its interval
outside the criterion's 0-1 range (a report showed faithfulness 0.999 [0.887, 1.111]); the value reported
here comes from the same design fitted with a logit link, so value and interval stay inside [0, 1], and the
linear fit is kept in the details. The length coefficient (the pooled result) is the linear one, in score
per word, as in the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from benchmaker.scoring.metrics import Z95, _is_constant
from benchmaker.scoring.schema import Result


def length_debiased_scores(name: str, records: list[tuple[str, float, float]]) -> tuple[Result, dict[str, Result]]:
    """Length-debiased judge scores: OLS ``score = beta_benchmark + beta_len * (length - mean length)``.

    One dummy per benchmark and no global intercept; centring length at the pooled mean makes each
    benchmark's coefficient the expected score at average analysis length (method.md 2.1(3)). Classical
    standard errors sigma^2 (X'X)^-1 with n - p degrees of freedom and 95% t intervals. Returns the pooled fit
    (value = length coefficient) and one Result per benchmark (value = debiased score from the logistic fit
    of :func:`_logistic_scores`; the linear coefficient and interval in ``details["ols"]``).
    """
    groups = list(dict.fromkeys(g for g, _, _ in records))
    scores = np.array([s for _, s, _ in records], dtype=float)
    lengths = np.array([w for _, _, w in records], dtype=float)
    group_of = np.array([groups.index(g) for g, _, _ in records], dtype=int)
    raw = {g: (float(scores[group_of == j].mean()), int((group_of == j).sum())) for j, g in enumerate(groups)}
    n, p = len(records), len(groups) + 1

    def unfit(reason: str) -> tuple[Result, dict[str, Result]]:
        per = {g: Result.missing(name, reason, benchmark=g, raw_mean=m, n=k) for g, (m, k) in raw.items()}
        return Result.missing(f"{name}_length_coefficient", reason, n=n), per

    if n <= p:
        return unfit(f"{n} judged items for {p} coefficients; the fit needs more items than coefficients")
    if _is_constant(lengths):
        return unfit("every judge analysis has the same length")
    mean_len = float(lengths.mean())
    x = np.column_stack([np.eye(len(groups))[group_of], lengths - mean_len])
    if np.linalg.matrix_rank(x) < p:
        return unfit("analysis length is fully determined by the benchmark; its effect cannot be separated")
    beta, _, _, _ = np.linalg.lstsq(x, scores, rcond=None)
    resid = scores - x @ beta
    dof = n - p
    sigma2 = float(resid @ resid) / dof
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    t = float(stats.t.ppf(0.975, dof))
    tss = float(((scores - scores.mean()) ** 2).sum())
    r2 = 1 - float(resid @ resid) / tss if tss > 0 else None  # dummies span the intercept, so centred R^2
    fit = f"OLS score ~ benchmark dummies + centred length, n={n}, {len(groups)} benchmarks, dof={dof}; 95% t"
    pooled = Result(
        name=f"{name}_length_coefficient",
        status="ok",
        value=float(beta[-1]),
        ci_low=float(beta[-1] - t * se[-1]),
        ci_high=float(beta[-1] + t * se[-1]),
        method=f"length coefficient (score per word) of {fit}",
        details={
            "n": n,
            "r2": r2,
            "mean_length": mean_len,
            "se": float(se[-1]),
            "dof": dof,
            "n_benchmarks": len(groups),
        },
    )
    logistic = _logistic_scores(groups, group_of, scores, lengths - mean_len)
    if isinstance(logistic, str):
        pooled = pooled.model_copy(update={"warning": f"no bounded fit: {logistic}"})
    else:
        pooled.details.update(
            logit_length_coefficient=logistic["slope"],
            logit_length_ci=logistic["slope_ci"],
        )
    per = {}
    for j, g in enumerate(groups):
        ols = {"value": float(beta[j]), "ci_low": float(beta[j] - t * se[j]), "ci_high": float(beta[j] + t * se[j])}
        details = {"benchmark": g, "raw_mean": raw[g][0], "n": raw[g][1], "se": float(se[j]), "ols": ols,
                   "n_benchmarks_in_fit": len(groups)}  # fmt: skip
        warning = None
        if len(groups) == 1:
            warning = (
                "one benchmark in the length-debiasing pool: the debiased value is its own mean adjusted only "
                "within itself (score it beside another benchmark, or give --reference, to debias)"
            )
        if isinstance(logistic, str):
            per[g] = Result.missing(name, f"no bounded fit: {logistic}", **details)
            continue
        value, low, high = logistic["groups"][j]
        per[g] = Result(
            name=name,
            status="ok",
            value=value,
            ci_low=low,
            ci_high=high,
            method=f"expected score at mean length {mean_len:.1f} words from a logistic (quasi-binomial) fit of "
            f"score ~ benchmark + centred length, n={n}, {len(groups)} benchmark(s), each with a pseudo-count of "
            "half a right and half a wrong verdict; 95% interval on the logit scale, so it stays in [0, 1] "
            "(details.ols: the paper's linear fit)",
            details=details,
            warning=warning,
        )
    return pooled, per


def _logistic_scores(
    groups: list[str], group_of: np.ndarray, scores: np.ndarray, centred: np.ndarray
) -> dict[str, Any] | str:
    """Quasi-binomial GLM (logit link) of scores in [0, 1] on benchmark dummies and centred length.

    Each benchmark gets two pseudo-observations at the mean length, one right and one wrong, weighted one
    half each (Jeffreys-style), so a benchmark judged all right still has a finite estimate. Returns each
    benchmark's expected score at the mean length with its 95% interval, mapped back from the logit scale,
    or the reason the fit failed.
    """
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    k = len(groups)
    dummies = np.eye(k)[group_of]
    x = np.column_stack([dummies, centred])
    pseudo_x = np.column_stack([np.vstack([np.eye(k), np.eye(k)]), np.zeros(2 * k)])
    x_all = np.vstack([x, pseudo_x])
    y_all = np.concatenate([scores, np.ones(k), np.zeros(k)])
    weights = np.concatenate([np.ones(len(scores)), np.full(2 * k, 0.5)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            fit = sm.GLM(y_all, x_all, family=sm.families.Binomial(), freq_weights=weights).fit(scale="X2")
    except (PerfectSeparationWarning, ConvergenceWarning, np.linalg.LinAlgError, ValueError) as error:
        return f"the logistic fit did not converge ({type(error).__name__}): analysis length separates the verdicts"
    params, bse = np.asarray(fit.params), np.asarray(fit.bse)
    if not np.all(np.isfinite(bse)):
        return "the logistic fit has undefined standard errors"
    expit = lambda z: float(1 / (1 + np.exp(-z)))  # noqa: E731
    return {
        "groups": [
            (expit(params[j]), expit(params[j] - Z95 * bse[j]), expit(params[j] + Z95 * bse[j])) for j in range(k)
        ],
        "slope": float(params[-1]),
        "slope_ci": [float(params[-1] - Z95 * bse[-1]), float(params[-1] + Z95 * bse[-1])],
    }
