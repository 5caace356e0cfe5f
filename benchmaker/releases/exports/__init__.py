"""Exports of a version, each in the layout its consumer loads unchanged (tested by running the consumer):
``lm_eval/`` (lm-evaluation-harness task YAMLs), ``inspect/`` (an Inspect task file), ``hf/`` (a Hugging
Face datasets folder with its card) and ``mmlu/`` (MMLU-style CSV)."""

from __future__ import annotations

from pathlib import Path

from benchmaker.releases.exports import hf_dataset, inspect_task, lm_eval, mmlu_csv
from benchmaker.releases.exports.common import ExportContext

__all__ = ["ExportContext", "write_exports"]


def write_exports(directory: Path, context: ExportContext) -> dict[str, object]:
    """Write every export under ``directory`` (the build's ``exports/``); returns what was written."""
    return {
        "lm_eval": {"folder": lm_eval.FOLDER, "tasks": lm_eval.write(directory / lm_eval.FOLDER, context)},
        "inspect": {
            "folder": inspect_task.FOLDER,
            "task_file": inspect_task.write(directory / inspect_task.FOLDER, context),
        },
        "hf": {"folder": hf_dataset.FOLDER, "data": hf_dataset.write(directory / hf_dataset.FOLDER, context)},
        "mmlu": {"folder": mmlu_csv.FOLDER, "csv": mmlu_csv.write(directory / mmlu_csv.FOLDER, context)},
    }
