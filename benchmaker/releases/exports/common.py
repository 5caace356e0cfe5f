"""The one flat row every export is written from: MMLU's columns plus flat, consistently typed provenance."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmaker.releases.models import ReleaseItem, ReleaseManifest

DATA_FILE = "test.jsonl"

# Every export row's columns and their types (Hugging Face ``datasets`` dtypes), declared in the dataset
# card so that a column that happens to be all null in one version still loads with its type.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("question", "string"),
    ("subject", "string"),
    ("choices", "list[string]"),
    ("answer", "int64"),
    ("answer_letter", "string"),
    ("version", "int64"),
    ("first_version", "int64"),
    ("anchor", "bool"),
    ("key_evidence", "string"),
    ("difficulty", "float64"),
    ("method", "string"),
    ("generator_model", "string"),
    ("source_run", "string"),
    ("review", "string"),
)


@dataclass(frozen=True)
class ExportContext:
    """What the exporters know about the version they write."""

    manifest: ReleaseManifest
    items: Sequence[ReleaseItem]
    final_dir: Path
    """Where the version will live once published (absolute): lm-eval needs absolute data paths."""
    language: str | None = None
    requirement: str = ""

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> int:
        return self.manifest.version


def task_identifier(name: str, version: int) -> str:
    """A Python identifier and lm-eval task name from a (validated) release name: ``<name>_v<N>``."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", f"{name}_v{version}").lower()
    return ident if ident[0].isalpha() else f"release_{ident}"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def review_label(item: ReleaseItem) -> str | None:
    """human_written, corrected, accepted, or None (published unreviewed)."""
    if item.source.origin == "human":
        return "human_written"
    return item.source.review.status if item.source.review is not None else None


def export_row(item: ReleaseItem, version: int) -> dict[str, Any]:
    """Every row has the same keys with the same types (strings may be null, numbers are floats or null)."""
    metadata = item.metadata
    return {
        "id": item.id,
        "question": item.question,
        "subject": item.subject,
        "choices": list(item.choices),
        "answer": item.answer_index,
        "answer_letter": item.answer,
        "version": version,
        "first_version": item.first_version,
        "anchor": item.anchor,
        "key_evidence": _text(metadata.get("key_evidence")),
        "difficulty": _number(metadata.get("difficulty")),
        "method": _text(metadata.get("method")),
        "generator_model": _text(metadata.get("generator")),
        "source_run": item.source.run_id,
        "review": review_label(item),
    }


def write_rows(path: Path, items: Sequence[ReleaseItem], version: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(export_row(item, version), ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
