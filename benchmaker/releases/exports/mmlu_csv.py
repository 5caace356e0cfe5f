"""MMLU's CSV layout: ``question, A, B, C, D, answer-letter``, no header (one option column per option)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmaker.releases.exports.common import ExportContext

FOLDER = "mmlu"


def write(directory: Path, context: ExportContext) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{context.name}_test.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for item in context.items:
            writer.writerow([item.question, *item.choices, item.answer])
    return path.name
