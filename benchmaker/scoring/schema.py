"""The quality report's data model: what ``quality.json`` holds and ``report.html`` renders.

A criterion that cannot be computed says so, with the reason; it never carries a made-up number.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Dimension = Literal["credibility", "diversity", "difficulty", "benchmark"]

# The paper's ten criteria, in report order, with their dimension.
CRITERIA: dict[str, Dimension] = {
    "faithfulness": "credibility",
    "alignment": "credibility",
    "lexical_diversity": "diversity",
    "semantic_diversity": "diversity",
    "knowledge_diversity": "diversity",
    "difficulty_controllability": "difficulty",
    "difficulty_boundary": "difficulty",
    "effectiveness": "benchmark",
    "robustness": "benchmark",
    "efficiency": "benchmark",
}

# Checks no competing tool reports.
CHECKS = (
    "answer_position_balance",
    "longest_option_baseline",
    "choices_only_baseline",
    "item_discrimination",
    "panel_separability",
    "key_evidence",
    "program_evidence",
    "program_agreement",
    "contamination",
    "human_review",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Result(_Model):
    """One criterion or check for one benchmark."""

    name: str
    status: Literal["ok", "not_computable"]
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = Field(default=None, description="Why it could not be computed.")
    method: str = Field(default="", description="How it was computed, in one line (estimator, model, sizes).")
    details: dict[str, Any] = Field(default_factory=dict)
    warning: str | None = Field(
        default=None, description="Why the figure should not be trusted as it stands (e.g. an uncalibrated judge)."
    )

    @model_validator(mode="after")
    def _honest(self) -> Result:
        if self.status == "ok" and self.value is None:
            raise ValueError(f"{self.name}: status ok needs a value")
        if self.status == "not_computable" and (self.value is not None or not self.reason):
            raise ValueError(f"{self.name}: not_computable needs a reason and no value")
        return self

    @classmethod
    def missing(cls, name: str, reason: str, **details: Any) -> Result:
        return cls(name=name, status="not_computable", reason=reason, details=details)


class ModelAccuracy(_Model):
    model: str
    accuracy: float = Field(ge=0, le=1)
    ci_low: float = Field(ge=0, le=1)
    ci_high: float = Field(ge=0, le=1)
    n_items: int = Field(ge=0)
    samples_per_item: int = Field(ge=1)
    unparsable: int = Field(ge=0, description="Answers that could not be parsed (counted as wrong).")


class ItemDiagnostics(_Model):
    id: str
    question: str
    answer: str
    difficulty_label: float | None = None
    panel_error_rate: float | None = None
    point_biserial: float | None = None
    flagged: list[str] = Field(default_factory=list, description="e.g. likely_mislabel, longest_is_answer")
    embedding_2d: tuple[float, float] | None = None
    judge_faithfulness: float | None = None
    judge_alignment: float | None = None
    key_evidence: str | None = Field(
        default=None, description="How the key is supported (generated items): a level of benchmaker.evidence.LEVELS."
    )
    memorisation_rouge_l: float | None = Field(
        default=None, ge=0, le=1, description="Highest ROUGE-L of a panel model's continuation of the question."
    )
    review_status: str | None = Field(
        default=None, description="Human review (benchmaker review): unreviewed, accepted, corrected or rejected."
    )


class BenchmarkQuality(_Model):
    name: str
    source: str
    kind: Literal["generated", "imported"]
    n_items: int = Field(ge=0)
    n_options: list[int] = Field(description="Distinct option counts in the benchmark.")
    criteria: dict[str, Result]
    checks: dict[str, Result]
    panel_accuracy: list[ModelAccuracy]
    items: list[ItemDiagnostics]
    skipped_items: list[dict[str, Any]] = Field(
        default_factory=list, description="Imported lines left out as invalid MCQs: {line, reason}."
    )

    @model_validator(mode="after")
    def _complete(self) -> BenchmarkQuality:
        if set(self.criteria) != set(CRITERIA):
            raise ValueError(f"criteria must be exactly {sorted(CRITERIA)}, got {sorted(self.criteria)}")
        return self


class QualityReport(_Model):
    schema_version: Literal[1] = 1
    created_at: str
    panel: list[str]
    samples_per_model: int
    judge: str | None
    embedding_model: str
    reference: str | None = None
    benchmarks: list[BenchmarkQuality]
    judge_debiasing: dict[str, Result] = Field(
        default_factory=dict, description="Per judged criterion: the pooled OLS fit (length coefficient)."
    )
    calibration: dict[str, Result] = Field(
        default_factory=dict,
        description="On trusted-key items (--calibrate or --reference): judge_calibration, panel_calibration.",
    )
    usage: dict[str, Any] = Field(default_factory=dict, description="LLM usage of the scoring itself.")
