"""What a scoring job is asked to do."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import Budget, LLMSettings, ModelSpec
from benchmaker.embeddings import DEFAULT_EMBEDDING_MODEL
from benchmaker.scoring.contamination import ContaminationSettings


class ScoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    panel: tuple[ModelSpec, ...] = Field(default=(ModelSpec(model="local", max_tokens=16),), min_length=1)
    samples: int = Field(default=1, ge=1, le=50, description="Answers per model per item (k).")
    judge: ModelSpec | None = Field(
        default=ModelSpec(model="local", max_tokens=400), description="None skips the LLM-judged criteria."
    )
    reference: Path | None = Field(
        default=None,
        description="Reference benchmark (run dir, JSONL, CSV) "
        "or a YAML/JSON mapping model -> accuracy, for effectiveness.",
    )
    calibrate: Path | None = Field(
        default=None,
        description="A benchmark with trusted keys (JSONL, CSV, run dir) to calibrate the judge and panel on; "
        "without it a --reference benchmark is used.",
    )
    calibration_items: int = Field(default=30, ge=2, le=1000, description="Trusted items the judge sees twice.")
    contamination: ContaminationSettings = ContaminationSettings()
    requirement: str | None = Field(default=None, description="Requirement for judging imported sets' alignment.")
    choices_only: bool = True
    robustness: bool = Field(
        default=False,
        description="Generate a second benchmark from a rewritten "
        "requirement for each generated one (costs a generation run) and compare.",
    )
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    limit: int | None = Field(default=None, gt=0, description="Score only the first N items of each benchmark.")
    boundary_fraction: float = Field(default=0.1, gt=0, le=0.5)
    seed: int = 0
    max_repairs: int = Field(default=2, ge=0, le=5)
    llm: LLMSettings = LLMSettings()
    budget: Budget = Budget()
    concurrency: int = Field(default=1, ge=1, le=64)
    outputs_dir: Path = Path("outputs")

    def models(self) -> list[ModelSpec]:
        return [*self.panel, *([self.judge] if self.judge else [])]
