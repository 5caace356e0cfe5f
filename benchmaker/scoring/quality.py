"""Turns a job's records into the QualityReport: the ten criteria, the extra checks, per-item diagnostics."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmaker.embeddings import Embedder
from benchmaker.items import utc_now
from benchmaker.scoring import artefacts, calibration, metrics
from benchmaker.scoring.benchmarks import LoadedBenchmark
from benchmaker.scoring.contamination_report import FLAG, contamination_result
from benchmaker.scoring.debiasing import length_debiased_scores
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.panel import PanelRecord
from benchmaker.scoring.run_checks import efficiency, human_review, program_checks
from benchmaker.scoring.schema import (
    BenchmarkQuality,
    ItemDiagnostics,
    ModelAccuracy,
    QualityReport,
    Result,
)

JUDGED = ("faithfulness", "alignment")


def item_text(question: str, choices: tuple[str, ...]) -> str:
    """What is embedded: the question with its options (as the paper does)."""
    return " ".join([question, *choices]).replace("\n", " ")


class PanelView:
    """The panel's answers to one benchmark as arrays: items x models, averaged over samples."""

    def __init__(self, records: list[PanelRecord], bench: LoadedBenchmark, models: list[str], mode: str) -> None:
        self.models = models
        index = {item.id: i for i, item in enumerate(bench.items)}
        total = np.zeros((len(bench.items), len(models)))
        count = np.zeros_like(total)
        self.unparsable = defaultdict(int)
        for record in records:
            if record.benchmark != bench.name or record.mode != mode or record.model not in models:
                continue
            i, m = index.get(record.item_id), models.index(record.model)
            if i is None:
                continue
            total[i, m] += record.correct
            count[i, m] += 1
            self.unparsable[record.model] += record.error is not None
        self.count = count
        self.complete = bool(count.size) and bool((count > 0).all())
        self.correctness = np.divide(total, count, out=np.zeros_like(total), where=count > 0)

    def accuracy(self) -> dict[str, float]:
        return {m: float(self.correctness[:, j].mean()) for j, m in enumerate(self.models)} if self.complete else {}

    def error_rates(self) -> list[float]:
        return [float(1 - row.mean()) for row in self.correctness]


def model_accuracies(view: PanelView, samples: int) -> list[ModelAccuracy]:
    """Accuracy over answered items, each item weighted once whatever its number of samples.

    The interval is per item: k samples of one item are not k independent observations of the model
    (they share the item), so the Wilson interval counts items, with each item's mean correctness as its
    (fractional) success; a [0, 1] mean has at most the variance of a Bernoulli, so it stays valid.
    """
    accuracies = []
    for j, model in enumerate(view.models):
        answered = view.count[:, j] > 0
        n_items = int(answered.sum())
        correct = float(view.correctness[answered, j].sum())
        low, high = metrics.wilson_interval(correct, n_items) if n_items else (0.0, 1.0)
        accuracies.append(
            ModelAccuracy(
                model=model,
                accuracy=correct / n_items if n_items else 0.0,
                ci_low=low,
                ci_high=high,
                n_items=int((view.count[:, j] > 0).sum()),
                samples_per_item=samples,
                unparsable=view.unparsable[model],
            )
        )
    return accuracies


def robustness(
    job: ScoreJob, bench: LoadedBenchmark, full: PanelView, records: list[PanelRecord], models: list[str]
) -> Result:
    companion = job.companions.get(bench.name)
    if companion is None:
        reason = (
            "not requested (score with --robustness to generate a second benchmark from a rewritten requirement)"
            if bench.kind == "generated"
            else "only a generated benchmark has a requirement to rewrite"
        )
        return Result.missing("robustness", reason)
    result = metrics.pearson_agreement(
        "robustness", full.accuracy(), PanelView(records, companion, models, "full").accuracy()
    )
    extra = {"companion": companion.source, "rewritten_requirement": job.companion_rewrite(bench.name)}
    return result.model_copy(
        update={
            "details": {**result.details, **extra},
            "method": (result.method + "; " if result.method else "")
            + "panel accuracies on the original vs the rewritten-requirement benchmark",
        }
    )


def judged_results(job: ScoreJob) -> tuple[dict[str, Result], dict[str, dict[str, Result]]]:
    """Pooled length-debiasing fit per judged criterion (the reference included), and each benchmark's score."""
    pooled: dict[str, Result] = {}
    per_bench: dict[str, dict[str, Result]] = {c: {} for c in JUDGED}
    for criterion in JUDGED:
        rows = [
            (r.benchmark, r.score, r.analysis_words)
            for r in job.judge_records.values()
            if r.criterion == criterion and r.score is not None and r.analysis_words is not None
        ]
        if job.settings.judge is None:
            reason = "no judge configured"
        elif not rows:
            reason = "no judge verdicts" + (
                " (no requirement to judge alignment against)" if criterion == "alignment" else ""
            )
        else:
            reason = ""
        if reason:
            pooled[criterion] = Result.missing(criterion, reason)
            continue
        pooled[criterion], per_bench[criterion] = length_debiased_scores(criterion, rows)
        others = {g: r for g, r in per_bench[criterion].items() if g not in {b.name for b in job.benchmarks}}
        if others:  # the reference is not a column of the report: its score goes with the pooled fit
            fit = pooled[criterion]
            extra = {
                g: {"value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, **r.details} for g, r in others.items()
            }
            pooled[criterion] = fit.model_copy(update={"details": {**fit.details, "other_benchmarks": extra}})
    return pooled, per_bench


def _flags(item, error_rate, biserial, longest_index) -> list[str]:  # noqa: ANN001
    flags = []
    if biserial is not None and biserial < -0.2:
        flags.append("likely_mislabel")
    if error_rate is not None and error_rate == 1.0:
        flags.append("no_model_correct")
    if longest_index == item.answer_index:
        flags.append("longest_is_answer")
    return flags


def _contamination(job: ScoreJob, bench: LoadedBenchmark, chance: float) -> tuple[Result, dict[str, float], set[str]]:
    modes = job.completion_modes()
    facts = {
        model: {
            "mode": modes[model],
            "self_generated": bench.generator_model is not None and bench.generator_model == model,
        }
        for model in modes
    }
    result, best, flagged = contamination_result(
        bench.name,
        [item.id for item in bench.items],
        chance,
        list(job.contamination_records.values()),
        facts,
        job.settings.contamination,
        seed=job.settings.seed,
    )
    own = sorted(m for m, f in facts.items() if f["self_generated"])
    if own and result.status == "ok":
        note = (
            f"{', '.join(own)} generated this benchmark: continuing its own text is easy for a model, so its "
            "completion figures here are a biased (too high) control, not evidence of memorisation"
        )
        result = result.model_copy(update={"warning": note})
    return result, best, flagged


PANEL_DERIVED = (
    "knowledge_diversity",
    "difficulty_controllability",
    "difficulty_boundary",
    "effectiveness",
    "robustness",
    "item_discrimination",
    "panel_separability",
    "choices_only_baseline",
)


def _with_warning(result: Result, warning: str | None) -> Result:
    if warning is None or result.status != "ok":
        return result
    joined = f"{result.warning}; {warning}" if result.warning else warning
    return result.model_copy(update={"warning": joined})


def benchmark_quality(
    job: ScoreJob,
    bench: LoadedBenchmark,
    *,
    embeddings: np.ndarray,
    coords: np.ndarray,
    token_budget: int | None,
    debiased: dict[str, dict[str, Result]],
    reference_accuracy: dict[str, float] | None,
    reference_reason: str,
    calibrated: dict[str, Result],
) -> BenchmarkQuality:
    settings = job.settings
    models = [spec.model for spec in settings.panel]
    records = list(job.panel_records.values())
    full = PanelView(records, bench, models, "full")
    labels = [item.difficulty for item in bench.items]
    errors = full.error_rates()
    criteria: dict[str, Result] = {}
    judge_warning = calibrated["judge_calibration"].warning if "judge_calibration" in calibrated else None
    for criterion in JUDGED:
        criteria[criterion] = _with_warning(
            debiased[criterion].get(bench.name) or Result.missing(criterion, "no judge verdicts for this benchmark"),
            judge_warning,
        )
    criteria["lexical_diversity"] = (
        metrics.lexical_diversity([i.question for i in bench.items], token_budget, seed=settings.seed)
        if token_budget
        else Result.missing("lexical_diversity", "too few tokens for a length-controlled estimate")
    )
    criteria["semantic_diversity"] = metrics.semantic_diversity(embeddings, settings.embedding_model)
    criteria["knowledge_diversity"] = metrics.knowledge_diversity(full.correctness)
    criteria["difficulty_controllability"] = metrics.difficulty_controllability(labels, errors)
    criteria["difficulty_boundary"] = metrics.difficulty_boundary(labels, errors, settings.boundary_fraction)
    if reference_accuracy is None:
        criteria["effectiveness"] = Result.missing("effectiveness", reference_reason)
    else:
        criteria["effectiveness"] = metrics.pearson_agreement("effectiveness", full.accuracy(), reference_accuracy)
    criteria["robustness"] = robustness(job, bench, full, records, models)
    criteria["efficiency"] = efficiency(bench)

    accuracies = model_accuracies(full, settings.samples)
    discrimination, biserials = artefacts.item_discrimination(full.correctness)
    choices = [list(i.choices) for i in bench.items]
    keys = [i.answer_index for i in bench.items]
    chance = float(np.mean([1 / len(c) for c in choices]))
    contamination, best_rouge, memorised = _contamination(job, bench, chance)
    checks = {
        "answer_position_balance": artefacts.answer_position_balance(
            keys, [len(c) for c in choices], seed=settings.seed
        ),
        "longest_option_baseline": artefacts.longest_option_baseline(choices, keys),
        "item_discrimination": discrimination,
        "panel_separability": artefacts.panel_separability(
            [(a.model, a.accuracy, a.ci_low, a.ci_high) for a in accuracies]
        ),
        **program_checks(bench),
        "contamination": contamination,
        "human_review": human_review(bench),
    }
    if settings.choices_only:
        blind = PanelView(records, bench, models, "choices_only")
        checks["choices_only_baseline"] = artefacts.choices_only_baseline(
            {m: blind.correctness[:, j].tolist() for j, m in enumerate(models)}, [len(c) for c in choices]
        )
    else:
        checks["choices_only_baseline"] = Result.missing("choices_only_baseline", "disabled")
    panel_warning = calibrated["panel_calibration"].warning if "panel_calibration" in calibrated else None
    for name in PANEL_DERIVED:
        if name in criteria:
            criteria[name] = _with_warning(criteria[name], panel_warning)
        if name in checks:
            checks[name] = _with_warning(checks[name], panel_warning)

    judged = {(r.item_id, r.criterion): r.score for r in job.judge_records.values() if r.benchmark == bench.name}
    items = []
    for index, item in enumerate(bench.items):
        longest = max(range(len(item.choices)), key=lambda k: len(item.choices[k]))
        error = errors[index] if full.complete else None
        flags = _flags(item, error, biserials[index], longest) + ([FLAG] if item.id in memorised else [])
        items.append(
            ItemDiagnostics(
                id=item.id,
                question=item.question,
                answer=item.answer,
                difficulty_label=item.difficulty,
                panel_error_rate=error,
                point_biserial=biserials[index],
                flagged=flags,
                embedding_2d=(float(coords[index, 0]), float(coords[index, 1])),
                judge_faithfulness=judged.get((item.id, "faithfulness")),
                judge_alignment=judged.get((item.id, "alignment")),
                key_evidence=item.key_evidence,
                memorisation_rouge_l=best_rouge.get(item.id),
                review_status=item.review_status,
            )
        )
    return BenchmarkQuality(
        name=bench.name,
        source=bench.source,
        kind=bench.kind,
        n_items=len(bench.items),
        n_options=sorted({len(c) for c in choices}),
        criteria=criteria,
        checks=checks,
        panel_accuracy=accuracies,
        items=items,
        skipped_items=[s.model_dump() for s in bench.skipped],
    )


def calibration_results(job: ScoreJob, records: list[PanelRecord], models: list[str]) -> dict[str, Result]:
    """Judge and panel on the trusted-key items, when the job has some (--calibrate or --reference)."""
    trusted = job.trusted()
    if trusted is None:
        return {}
    source = trusted.source
    judge = job.settings.judge.model if job.settings.judge else None
    out = {"judge_calibration": calibration.judge_calibration(source, list(job.calibration_records.values()), judge)}
    view = PanelView(records, trusted, models, "full")
    accuracy = {a.model: (a.accuracy, a.ci_low, a.ci_high, a.n_items) for a in model_accuracies(view, 1) if a.n_items}
    chance = float(np.mean([1 / len(i.choices) for i in trusted.items]))
    out["panel_calibration"] = calibration.panel_calibration(source, accuracy, chance)
    return out


def build_report(job: ScoreJob, embedder: Embedder, usage: dict[str, Any]) -> QualityReport:
    settings = job.settings
    models = [spec.model for spec in settings.panel]
    records = list(job.panel_records.values())
    reference_accuracy, reason = None, "no reference benchmark or reference scores given (--reference)"
    if job.reference_scores is not None:
        reference_accuracy = job.reference_scores
    elif job.reference is not None:
        view = PanelView(records, job.reference, models, "full")
        reference_accuracy = view.accuracy() or None
        reason = "the reference benchmark was not fully answered by the panel"
    pooled, debiased = judged_results(job)
    calibrated = calibration_results(job, records, models)
    texts = {b.name: [item_text(i.question, i.choices) for i in b.items] for b in job.benchmarks}
    all_texts = [t for b in job.benchmarks for t in texts[b.name]]
    vectors = embedder.embed(all_texts)
    coords = metrics.project_2d(vectors)
    token_budget = metrics.common_token_budget(
        [sum(len(metrics.tokenize(i.question)) for i in b.items) for b in job.benchmarks]
    )
    qualities, offset = [], 0
    for bench in job.benchmarks:
        n = len(bench.items)
        qualities.append(
            benchmark_quality(
                job,
                bench,
                embeddings=vectors[offset : offset + n],
                coords=coords[offset : offset + n],
                token_budget=token_budget,
                debiased=debiased,
                reference_accuracy=reference_accuracy,
                reference_reason=reason,
                calibrated=calibrated,
            )
        )
        offset += n
    return QualityReport(
        created_at=utc_now(),
        panel=models,
        samples_per_model=settings.samples,
        judge=settings.judge.model if settings.judge else None,
        embedding_model=embedder.name,
        reference=str(settings.reference) if settings.reference else None,
        benchmarks=qualities,
        judge_debiasing=pooled,
        calibration=calibrated,
        usage=usage,
    )
