"""The scoring metrics on hand-built cases whose answers are known independently of the code under test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from benchmaker.scoring.artefacts import (
    answer_position_balance,
    choices_only_baseline,
    item_discrimination,
    longest_option_baseline,
    panel_separability,
)
from benchmaker.scoring.debiasing import length_debiased_scores
from benchmaker.scoring.metrics import (
    common_token_budget,
    difficulty_boundary,
    difficulty_controllability,
    knowledge_diversity,
    lexical_diversity,
    pearson_agreement,
    project_2d,
    semantic_diversity,
    tokenize,
    wilson_interval,
)
from benchmaker.scoring.schema import Result


def assert_missing(result: Result) -> None:
    assert result.status == "not_computable"
    assert result.value is None
    assert result.reason
    json.dumps(result.model_dump())


def assert_ok(result: Result) -> None:
    assert result.status == "ok", result.reason
    assert result.method
    json.dumps(result.model_dump())  # details must be plain JSON


# Items x models: each row's number of correct models is 4, 3, 2, 3, 1, 0 -> error rates below.
PANEL = np.array(
    [
        [1, 1, 1, 1],
        [1, 1, 1, 0],
        [1, 1, 0, 0],
        [0, 1, 1, 1],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
    ],
    dtype=float,
)
ERRORS = [0.0, 0.25, 0.5, 0.25, 0.75, 1.0]
LABELS: list[float | None] = [1, 2, 3, 4, 5, 6]


# -------------------- tokenise


def test_tokenize_chinese_one_token_per_character() -> None:
    assert tokenize("我喜欢学习化学") == list("我喜欢学习化学")
    assert len(tokenize("我喜欢学习化学。")) == 7


def test_tokenize_mixed_text() -> None:
    text = "Hello, World! 我爱Python 3.11 — don't stop; ひらがなカタカナ 한국"
    assert tokenize(text) == [
        "hello",
        "world",
        "我",
        "爱",
        "python",
        "3",
        "11",
        "don't",
        "stop",
        "ひ",
        "ら",
        "が",
        "な",
        "カ",
        "タ",
        "カ",
        "ナ",
        "한",
        "국",
    ]
    assert tokenize("  ...!?  ") == []


# -------------------- lexical


def test_lexical_entropy_of_uniform_vocabulary_is_log2_v() -> None:
    vocab = [f"w{i}" for i in range(8)]
    texts = [" ".join(vocab) for _ in range(10)]  # 80 tokens, each word 10 times
    r = lexical_diversity(texts, token_budget=80, repeats=5)
    assert_ok(r)
    assert r.value == pytest.approx(3.0)
    assert (r.ci_low, r.ci_high) == (pytest.approx(3.0), pytest.approx(3.0))
    assert r.details["plugin_all_tokens"] == pytest.approx(3.0)
    assert r.details["miller_madow"] == pytest.approx(3.0 + 7 / (2 * 80 * math.log(2)))
    assert r.details["total_tokens"] == 80


def test_lexical_subsample_is_deterministic_and_bounded() -> None:
    texts = [f"the quick brown fox {i} jumps over the lazy dog" for i in range(30)]
    a = lexical_diversity(texts, token_budget=100, seed=3)
    b = lexical_diversity(texts, token_budget=100, seed=3)
    assert a.value == b.value
    assert a.ci_low <= a.value <= a.ci_high <= math.log2(100)


def test_lexical_budget_above_tokens_is_missing() -> None:
    assert_missing(lexical_diversity(["two words"], token_budget=3))


def test_common_token_budget() -> None:
    assert common_token_budget([5000, 800, 1200]) == 800
    assert common_token_budget([5000, 3000]) == 2000
    assert common_token_budget([5000, 20]) is None
    assert common_token_budget([]) is None


# -------------------- semantic / knowledge


def test_identical_items_have_zero_diversity() -> None:
    emb = np.tile([0.3, -1.2, 0.5], (5, 1))
    sem = semantic_diversity(emb, "toy")
    assert_ok(sem)
    assert sem.value == 0.0
    know = knowledge_diversity(np.tile([1, 0, 1, 1], (5, 1)))
    assert_ok(know)
    assert know.value == 0.0


def test_semantic_diversity_known_value() -> None:
    # After normalising: e1, e2, e1 -> distances sqrt2, 0, sqrt2.
    r = semantic_diversity(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]), "toy")
    assert r.value == pytest.approx(2 * math.sqrt(2) / 3)
    assert r.ci_low is None and r.details == {"model_name": "toy", "n_items": 3, "dim": 2}


def test_knowledge_diversity_known_value() -> None:
    # Distance between all-right and all-wrong over K=4 is 2; over sqrt(K) it is 1.
    r = knowledge_diversity(np.array([[1, 1, 1, 1], [0, 0, 0, 0]]))
    assert r.value == pytest.approx(1.0)
    # Three items: pairwise distances 1 (one disagreement), 1, sqrt(2); K = 2.
    r = knowledge_diversity(np.array([[1, 1], [0, 1], [1, 0]]))
    assert r.value == pytest.approx((1 + 1 + math.sqrt(2)) / 3 / math.sqrt(2))


def test_diversity_missing_paths() -> None:
    assert_missing(semantic_diversity(np.ones((1, 4)), "toy"))
    assert_missing(semantic_diversity(np.zeros((3, 4)), "toy"))
    one = knowledge_diversity(np.array([[1], [0], [1]]))
    assert_missing(one)
    assert "panel of one" in one.reason
    assert_missing(knowledge_diversity(np.array([[1, 0, 1]])))


# -------------------- difficulty


def test_controllability_known_spearman() -> None:
    # Ranks of the errors: 1, 2.5, 4, 2.5, 5, 6 against 1..6 -> rho = 15.5 / sqrt(17.5 * 17).
    error_rates = list(1 - PANEL.mean(axis=1))
    assert error_rates == ERRORS
    r = difficulty_controllability(LABELS, error_rates)
    assert_ok(r)
    expected = 15.5 / math.sqrt(17.5 * 17)
    assert r.value == pytest.approx(expected)
    se = 1.06 / math.sqrt(6 - 3)
    assert r.ci_low == pytest.approx(math.tanh(math.atanh(expected) - 1.959964 * se))
    assert r.ci_high == pytest.approx(math.tanh(math.atanh(expected) + 1.959964 * se))
    assert r.details["n"] == 6


def test_controllability_ignores_unlabelled_items() -> None:
    labels = [*LABELS, None, float("nan")]
    assert difficulty_controllability(labels, [*ERRORS, 0.9, 0.1]).value == pytest.approx(15.5 / math.sqrt(17.5 * 17))


def test_controllability_missing_paths() -> None:
    assert_missing(difficulty_controllability([None] * 6, ERRORS))
    assert_missing(difficulty_controllability([1, 2, 3, 4, None, None], ERRORS))  # 4 labelled
    assert_missing(difficulty_controllability([3] * 6, ERRORS))  # constant labels
    assert_missing(difficulty_controllability(LABELS, [0.5] * 6))  # constant error rates


def test_difficulty_boundary_top_fraction() -> None:
    labels = list(range(1, 11))
    errors = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.95, 0.2]
    r = difficulty_boundary(labels, errors, fraction=0.2)  # hardest by label: labels 10 and 9
    assert_ok(r)
    assert r.value == pytest.approx((0.2 + 0.95) / 2)
    assert r.details["by_actual_error"] == pytest.approx((0.95 + 0.7) / 2)
    assert r.details["n_subset"] == 2


def test_difficulty_boundary_ties_share_the_places_without_order_bias() -> None:
    # Correction 2: the hardest 10% is 1 place, and two items are tied at label 3 (errors 0.4 and 0.8).
    # Before, file order decided (index 0: 0.4); a random tie-break gives 0.6 on average.
    labels = [3, 1, 3, 2, 1, 1, 1, 1, 1, 1]
    errors = [0.4, 0.9, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert difficulty_boundary(labels, errors, fraction=0.1).value == pytest.approx(0.6)
    assert difficulty_boundary(labels[::-1], errors[::-1], fraction=0.1).value == pytest.approx(0.6)
    # 3 places: label 5 is in, the four items tied at label 4 share 2 places: (0.9 + 2 * mean(0, .2, .4, .6)) / 3.
    labels = [4, 5, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    errors = [0.0, 0.9, 0.2, 0.4, 0.6] + [0.1] * 25
    assert difficulty_boundary(labels, errors, fraction=0.1).value == pytest.approx((0.9 + 2 * 0.3) / 3)


def test_difficulty_boundary_without_labels_still_reports_upper_bound() -> None:
    r = difficulty_boundary([None] * 10, [i / 10 for i in range(10)], fraction=0.2)
    assert_missing(r)
    assert r.details["by_actual_error"] == pytest.approx(0.85)


# -------------------- benchmark level


def test_pearson_agreement_known_value() -> None:
    # x deviations -.3 -.1 .1 .3, y deviations -.4 0 0 .4: r = .24 / sqrt(.2 * .32) = 3 / sqrt(10).
    gen = {"m1": 0.2, "m2": 0.4, "m3": 0.6, "m4": 0.8, "only_gen": 0.1}
    human = {"m1": 0.1, "m2": 0.5, "m3": 0.5, "m4": 0.9, "only_human": 0.3}
    r = pearson_agreement("effectiveness", gen, human)
    assert_ok(r)
    assert r.value == pytest.approx(3 / math.sqrt(10))
    assert r.details["models"] == ["m1", "m2", "m3", "m4"]
    assert r.ci_low == pytest.approx(math.tanh(math.atanh(3 / math.sqrt(10)) - 1.959964))


def test_pearson_agreement_from_panel_accuracies() -> None:
    acc = dict(zip(["a", "b", "c", "d"], PANEL.mean(axis=0), strict=True))  # 4/6, 4/6, 3/6, 2/6
    other = {"a": 0.9, "b": 0.8, "c": 0.5, "d": 0.2}
    x, y = np.array([4, 4, 3, 2]) / 6, np.array([0.9, 0.8, 0.5, 0.2])
    xd, yd = x - x.mean(), y - y.mean()
    expected = (xd @ yd) / math.sqrt((xd @ xd) * (yd @ yd))
    assert pearson_agreement("robustness", acc, other).value == pytest.approx(expected)


def test_pearson_agreement_three_models_has_no_interval() -> None:
    # Fisher z needs n > 3; with three models r is reported without an interval.
    r = pearson_agreement("effectiveness", {"a": 0.1, "b": 0.2, "c": 0.3}, {"a": 0.2, "b": 0.4, "c": 0.6})
    assert_ok(r)
    assert r.value == pytest.approx(1.0)
    assert r.ci_low is None and r.ci_high is None


def test_pearson_agreement_missing_paths() -> None:
    assert_missing(pearson_agreement("robustness", {"a": 0.1, "b": 0.2}, {"a": 0.3, "b": 0.5, "c": 0.9}))
    flat = {"a": 0.5, "b": 0.5, "c": 0.5}
    assert_missing(pearson_agreement("robustness", flat, {"a": 0.1, "b": 0.2, "c": 0.3}))


def test_wilson_interval_known_value() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=5e-4)
    assert high == pytest.approx(0.943, abs=5e-4)
    assert wilson_interval(0, 5)[0] == 0.0


# -------------------- checks


def test_answer_position_balance() -> None:
    r = answer_position_balance([0, 1, 2, 3] * 5, 4)
    assert_ok(r)
    assert r.value == pytest.approx(1.0)
    assert r.details["counts"] == {"A": 5, "B": 5, "C": 5, "D": 5}
    skewed = answer_position_balance([0] * 20 + [1, 2, 3] * 4, 4)  # expected 8: chi2 = (144 + 3 * 16) / 8 = 24
    assert skewed.details["chi2"] == pytest.approx(24.0)
    assert skewed.value == pytest.approx(stats.chi2.sf(24.0, 3))
    assert skewed.details["dof"] == 3 and skewed.details["p_value_method"] == "chi2"
    assert_missing(answer_position_balance([0, 1], 4))


def test_answer_position_balance_mixed_option_counts() -> None:
    # Correction 3: 40 two-option items keyed 20 A / 20 B and 40 four-option items keyed 10 each are
    # perfectly balanced. The old test pooled them against uniform over 4 positions (counts 30, 30, 10,
    # 10 vs 20 each: chi2 = 20, p ~ 2e-4) and called them unbalanced.
    keys = [0, 1] * 20 + [0, 1, 2, 3] * 10
    r = answer_position_balance(keys, [2] * 40 + [4] * 40)
    assert_ok(r)
    assert r.details["chi2"] == pytest.approx(0.0)
    assert r.value == pytest.approx(1.0)
    assert r.details["dof"] == 1 + 3
    assert r.details["expected_share"] == pytest.approx({"A": 0.375, "B": 0.375, "C": 0.125, "D": 0.125})
    # Only the two-option group skewed (30 A / 10 B): chi2 = 2 * 10^2 / 20 = 10 on 4 dof.
    skewed = answer_position_balance([0] * 30 + [1] * 10 + [0, 1, 2, 3] * 10, [2] * 40 + [4] * 40)
    assert skewed.value == pytest.approx(stats.chi2.sf(10.0, 4))


def test_answer_position_balance_small_counts_use_an_exact_reference() -> None:
    # Correction 3: four 4-option items all keyed A (expected count 1). chi2 = (9 + 1 + 1 + 1) / 1 = 12,
    # reached only when all four keys share a position: exact p = 4 / 4^4 = 1/64 (the chi-square
    # approximation says 0.0074).
    r = answer_position_balance([0, 0, 0, 0], 4)
    assert r.details["chi2"] == pytest.approx(12.0)
    assert r.details["p_value_method"] == "monte_carlo"
    assert r.value == pytest.approx(1 / 64, abs=0.004)


def test_longest_option_baseline() -> None:
    choices = [["a", "bbb", "cc"], ["dddd", "e", "ff", "g"], ["xx", "yy"], ["p", "qq", "r"]]
    answers = [1, 1, 1, 1]
    # Picks: 1 (right), 0 (wrong), 0 on a tie (wrong), 1 (right).
    r = longest_option_baseline(choices, answers)
    assert_ok(r)
    assert r.value == pytest.approx(0.5)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(2, 4))
    assert r.details["chance"] == pytest.approx((1 / 3 + 1 / 4 + 1 / 2 + 1 / 3) / 4)
    assert r.details["share_answer_uniquely_longest"] == pytest.approx(0.5)
    assert_missing(longest_option_baseline([], []))


def test_choices_only_baseline() -> None:
    r = choices_only_baseline({"m1": [1, 0, 1, 0], "m2": [1, 1, 1, 1]}, [4, 4, 2, 2])
    assert_ok(r)
    assert r.value == pytest.approx(0.75)
    assert r.details["per_model"] == {"m1": 0.5, "m2": 1.0}
    assert r.details["chance"] == pytest.approx(0.375)
    assert_missing(choices_only_baseline({}, [4]))


def test_item_discrimination_flags_inverted_key() -> None:
    # Five models from weakest to strongest; item 4 has its key inverted: only the weak models "get it right".
    c = np.array(
        [
            [0, 0, 1, 1, 1],
            [0, 1, 1, 1, 1],
            [0, 0, 0, 1, 1],
            [0, 0, 0, 0, 1],
            [1, 1, 0, 0, 0],
            [1, 1, 1, 1, 1],  # everyone right: undefined
        ],
        dtype=float,
    )
    result, per_item = item_discrimination(c)
    assert_ok(result)
    rest = c.sum(axis=0) - c
    for i in range(5):
        assert per_item[i] == pytest.approx(stats.pearsonr(c[i], rest[i])[0])
    assert per_item[5] is None
    assert per_item[4] < -0.2
    assert result.details["flagged_indices"] == [4]
    assert result.value == pytest.approx(np.mean(per_item[:5]))


def test_item_discrimination_needs_three_models() -> None:
    result, per_item = item_discrimination(np.array([[1, 0], [0, 1], [1, 1]]))
    assert_missing(result)
    assert per_item == [None, None, None]


def test_panel_separability_hand_made_intervals() -> None:
    r = panel_separability([("A", 0.90, 0.85, 0.95), ("B", 0.50, 0.45, 0.55), ("C", 0.52, 0.47, 0.57)])
    assert_ok(r)
    assert r.value == pytest.approx(2 / 3)
    assert [p["separable"] for p in r.details["pairs"]] == [True, True, False]
    assert r.details["spread"] == pytest.approx(np.std([0.9, 0.5, 0.52]))
    assert_missing(panel_separability([("A", 0.9, 0.8, 1.0)]))


# -------------------- judge debiasing


def _judge_transcript(seed: int = 0) -> tuple[list[tuple[str, float, float]], float]:
    """Scores from an exact linear model: 0.8 for A, 0.5 for B, -0.01 per word from the pooled mean."""
    rng = np.random.default_rng(seed)
    lengths = np.concatenate([rng.uniform(150, 300, 40), rng.uniform(50, 200, 40)])  # A writes longer
    groups = ["A"] * 40 + ["B"] * 40
    mean_len = lengths.mean()
    base = np.where(np.array(groups) == "A", 0.8, 0.5)
    scores = base - 0.01 * (lengths - mean_len) + rng.normal(0, 1e-4, 80)
    return list(zip(groups, scores.tolist(), lengths.tolist(), strict=True)), float(mean_len)


def test_length_debiasing_recovers_coefficients() -> None:
    records, mean_len = _judge_transcript()
    pooled, per = length_debiased_scores("faithfulness", records)
    assert_ok(pooled)
    assert pooled.value == pytest.approx(-0.01, abs=1e-5)
    assert pooled.ci_low < -0.01 < pooled.ci_high
    assert pooled.details["mean_length"] == pytest.approx(mean_len)
    assert pooled.details["r2"] > 0.999
    assert set(per) == {"A", "B"}
    for g, beta in (("A", 0.8), ("B", 0.5)):
        assert_ok(per[g])
        assert per[g].name == "faithfulness"
        ols = per[g].details["ols"]
        assert ols["value"] == pytest.approx(beta, abs=1e-4)
        assert ols["ci_low"] < beta < ols["ci_high"]
        assert per[g].details["n"] == 40
        assert 0 <= per[g].ci_low <= per[g].value <= per[g].ci_high <= 1
    # The raw means are biased by length; the debiased scores are not.
    assert per["A"].details["raw_mean"] < 0.8 - 0.1
    assert per["B"].details["raw_mean"] > 0.5 + 0.1


def test_debiased_values_and_intervals_stay_in_the_criterion_range() -> None:
    # Correction 7: benchmark A is judged right on 29 of 30 items, and its one wrong verdict has the
    # longest analysis; the linear fit put A's score and interval above 1 (value 1.00x, interval to 1.1).
    rng = np.random.default_rng(3)
    records = [("A", 1.0, float(w)) for w in rng.uniform(20, 60, 29)] + [("A", 0.0, 200.0)]
    records += [
        ("B", float(s), float(w)) for s, w in zip(rng.integers(0, 2, 30), rng.uniform(20, 200, 30), strict=True)
    ]
    _, per = length_debiased_scores("faithfulness", records)
    assert per["A"].details["ols"]["ci_high"] > 1  # what the report used to show
    for g in ("A", "B"):
        r = per[g]
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 1


def test_logistic_debiasing_known_value_without_a_length_effect() -> None:
    # Each benchmark's lengths are symmetric around the pooled mean (100) and its right verdicts sit at
    # the same lengths as its wrong ones, so the length slope is 0 and each benchmark's value is its
    # share of right verdicts with the pseudo-count: (right + 1/2) / (n + 1).
    records = [("A", 1.0, 80.0), ("A", 1.0, 120.0), ("A", 1.0, 90.0), ("A", 1.0, 110.0), ("A", 0.0, 100.0)]
    records += [("B", 1.0, 70.0), ("B", 1.0, 130.0), ("B", 0.0, 70.0), ("B", 0.0, 130.0), ("B", 0.0, 100.0)]
    pooled, per = length_debiased_scores("faithfulness", records)
    assert pooled.details["logit_length_coefficient"] == pytest.approx(0.0, abs=1e-6)
    assert per["A"].value == pytest.approx(4.5 / 6)
    assert per["B"].value == pytest.approx(2.5 / 6)
    assert per["A"].warning is None


def test_one_benchmark_alone_is_said_not_to_be_debiased() -> None:
    # Correction 5: with one benchmark in the pool the linear "debiased" value is exactly the raw mean.
    records = [("A", float(s), float(w)) for s, w in [(1, 10), (0, 30), (1, 20), (1, 50), (0, 40), (1, 15)]]
    _, per = length_debiased_scores("faithfulness", records)
    assert per["A"].details["ols"]["value"] == pytest.approx(per["A"].details["raw_mean"])
    assert "one benchmark" in per["A"].warning


def test_length_debiasing_missing_paths() -> None:
    constant = [("A", 1.0, 100.0), ("A", 0.0, 100.0), ("B", 1.0, 100.0), ("B", 1.0, 100.0)]
    pooled, per = length_debiased_scores("alignment", constant)
    assert_missing(pooled)
    assert_missing(per["A"])
    assert per["A"].details["raw_mean"] == pytest.approx(0.5)
    too_few = [("A", 1.0, 10.0), ("B", 0.0, 20.0), ("B", 1.0, 30.0)]  # n = p = 3
    pooled, per = length_debiased_scores("alignment", too_few)
    assert_missing(pooled)
    assert_missing(per["B"])
    # Length fully determined by the benchmark: the two effects cannot be separated.
    confounded = [("A", 1.0, 10.0), ("A", 0.0, 10.0), ("B", 1.0, 30.0), ("B", 0.5, 30.0)]
    assert_missing(length_debiased_scores("alignment", confounded)[0])


# -------------------- map


def test_project_2d() -> None:
    assert np.array_equal(project_2d(np.ones((2, 5))), np.zeros((2, 2)))
    line = np.outer(np.arange(5.0), [1.0, 2.0, 2.0])  # collinear points, spacing 3
    xy = project_2d(line)
    assert xy.shape == (5, 2)
    assert np.abs(np.diff(xy[:, 0])) == pytest.approx(np.full(4, 3.0))
    assert xy[:, 1] == pytest.approx(np.zeros(5), abs=1e-9)


def test_mean_pairwise_unit_distance_matches_pdist_across_blocks() -> None:
    from scipy.spatial.distance import pdist

    from benchmaker.scoring.metrics import mean_pairwise_unit_distance

    rng = np.random.default_rng(5)
    unit = rng.normal(size=(50, 8))
    unit[7] = unit[3]  # a duplicate pair: distance 0, not a NaN from rounding below zero
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    for block in (16, 50, 1024):  # several row blocks, one exact, one larger than n
        assert mean_pairwise_unit_distance(unit, block=block) == pytest.approx(pdist(unit).mean(), rel=1e-12)
