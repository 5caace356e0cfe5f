"""``report.html``: one self-contained, offline page rendered from a :class:`QualityReport`.

Every piece of text from the report (questions, model and benchmark names, reasons) goes through
Jinja's autoescaping. The only markup inserted raw is the SVG that :mod:`benchmaker.scoring.report_plots`
draws itself with matplotlib; matplotlib XML-escapes any text it writes into SVG, mathtext is switched
off so a ``$`` in a model name is just a dollar sign, and the SVG's metadata and namespace URLs are
stripped so the page refers to nothing outside itself. Each plot's ids are prefixed so several inline
SVGs in one page cannot resolve each other's ``#references``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from benchmaker.scoring.report_format import finite, fmt, fmt_ci, fmt_label, soft_breaks, truncate
from benchmaker.scoring.report_memorisation import memorisation_rows, rouge_by_fraction
from benchmaker.scoring.report_plots import (
    Plots,
    answer_positions,
    benchmark_colors,
    difficulty_histograms,
    difficulty_labels,
    embedding_map,
    label_vs_error,
    model_accuracy,
    model_order,
)
from benchmaker.scoring.schema import CHECKS, CRITERIA, QualityReport, Result

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "report.html.j2"

QUESTION_CHARS = 200  # question text shown in the flagged-items table
TOOLTIP_CHARS = 2000  # full question in the cell's title, up to this
FLAGGED_ROWS = 100  # flagged items listed per benchmark
DETAILS_CHARS = 4000  # JSON of a result's details shown in its collapsible block

DIMENSION_TITLES = {
    "credibility": "Credibility",
    "diversity": "Diversity",
    "difficulty": "Difficulty",
    "benchmark": "Benchmark",
}


# --------------------------------------------------------------------------- formatting


def _details_json(details: dict[str, Any]) -> str:
    if not details:
        return ""
    text = json.dumps(details, indent=1, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= DETAILS_CHARS else text[:DETAILS_CHARS] + "\n… (truncated)"


# --------------------------------------------------------------------------- tables


@dataclass
class Cell:
    status: str  # ok | not_computable | absent
    value: str = ""
    ci: str = ""
    reason: str = ""
    method: str = ""
    details: str = ""
    warning: str = ""


def _cell(result: Result | None) -> Cell:
    if result is None:
        return Cell(status="absent", reason="not reported")
    return Cell(
        status=result.status,
        value=fmt(result.value) if result.status == "ok" else "n/a",
        ci=fmt_ci(result.ci_low, result.ci_high),
        reason=result.reason or "",
        method=result.method,
        details=_details_json(result.details),
        warning=result.warning or "",
    )


def _criteria_rows(report: QualityReport) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for dimension, title in DIMENSION_TITLES.items():
        rows = [
            {"name": name, "cells": [_cell(b.criteria.get(name)) for b in report.benchmarks]}
            for name, dim in CRITERIA.items()
            if dim == dimension
        ]
        groups.append({"title": title, "rows": rows})
    return groups


def _check_rows(report: QualityReport) -> list[dict[str, Any]]:
    extra = sorted({name for b in report.benchmarks for name in b.checks} - set(CHECKS))
    return [
        {"name": name, "cells": [_cell(b.checks.get(name)) for b in report.benchmarks]} for name in (*CHECKS, *extra)
    ]


def _accuracy_table(report: QualityReport) -> list[dict[str, Any]]:
    rows = []
    for model in model_order(report):
        cells = []
        for b in report.benchmarks:
            acc = next((a for a in b.panel_accuracy if a.model == model), None)
            if acc is None:
                cells.append(None)
            else:
                cells.append(
                    {
                        "value": fmt(acc.accuracy),
                        "ci": fmt_ci(acc.ci_low, acc.ci_high),
                        "note": f"{acc.n_items} items × {acc.samples_per_item}"
                        + (f", {acc.unparsable} unparsable" if acc.unparsable else ""),
                    }
                )
        if any(cells):
            rows.append({"model": model, "cells": cells})
    return rows


def _judge_rows(report: QualityReport) -> list[dict[str, Any]]:
    """Per judged criterion: the pooled length coefficient, and each benchmark's raw and debiased mean.

    ``judge_debiasing[criterion]`` is the pooled fit (value = length coefficient). Each benchmark's
    ``criteria[criterion]`` is its debiased score (value, CI) with ``details["raw_mean"]``. A raw mean
    missing there is the mean of the items' own judge scores (``judge_<criterion>``), if they have them.
    """
    rows = []
    for criterion, pooled in report.judge_debiasing.items():
        entries = []
        for b in report.benchmarks:
            result = b.criteria.get(criterion)
            raw = result.details.get("raw_mean") if result is not None else None
            source = ""
            if not finite(raw):
                raw = None
                scores = [getattr(it, f"judge_{criterion}", None) for it in b.items]
                scores = [s for s in scores if finite(s)]
                if scores:
                    raw, source = float(np.mean(scores)), f"mean of {len(scores)} item scores"
            debiased = _cell(result) if result is not None else Cell(status="absent", reason="not reported")
            debiased.method = debiased.details = ""  # the method line is the pooled fit's, shown once
            entries.append({"benchmark": b.name, "raw": fmt(raw), "raw_source": source, "debiased": debiased})
        if not entries:
            entries.append(
                {
                    "benchmark": "—",
                    "raw": "—",
                    "raw_source": "",
                    "debiased": Cell(status="absent", reason="no benchmarks"),
                }
            )
        rows.append({"criterion": criterion, "coefficient": _cell(pooled), "entries": entries})
    return rows


def _flagged(report: QualityReport) -> list[dict[str, Any]]:
    out = []
    for b in report.benchmarks:
        flagged = [it for it in b.items if it.flagged]
        flagged.sort(key=lambda it: (-len(it.flagged), -(it.panel_error_rate or 0.0), it.id))
        counts: dict[str, int] = {}
        for it in flagged:
            for flag in it.flagged:
                counts[flag] = counts.get(flag, 0) + 1
        rows = [
            {
                "id": it.id,
                "flags": it.flagged,
                "question": truncate(it.question, QUESTION_CHARS),
                "question_full": truncate(it.question, TOOLTIP_CHARS),
                "answer": truncate(it.answer, 60),
                "label": fmt_label(it.difficulty_label),
                "error": fmt(it.panel_error_rate),
                "pbis": fmt(it.point_biserial),
            }
            for it in flagged[:FLAGGED_ROWS]
        ]
        out.append(
            {
                "name": b.name,
                "n_items": b.n_items,
                "n_flagged": len(flagged),
                "hidden": max(0, len(flagged) - FLAGGED_ROWS),
                "counts": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
                "rows": rows,
            }
        )
    return out


def _usage(report: QualityReport) -> tuple[list[tuple[str, str]], str]:
    simple = [(k, fmt(v)) for k, v in report.usage.items() if isinstance(v, int | float | str | bool)]
    nested = {k: v for k, v in report.usage.items() if not isinstance(v, int | float | str | bool)}
    return simple, _details_json(nested)


# --------------------------------------------------------------------------- entry points


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["soft_breaks"] = soft_breaks
    return env


def _reviews(report: QualityReport) -> list[dict[str, Any]]:
    """Per reviewed benchmark: statuses and, per key evidence level, how often reviewers overturned the key."""
    out = []
    for b in report.benchmarks:
        check = b.checks.get("human_review")
        if check is None or check.status != "ok":
            continue
        details = check.details
        rows = []
        for level, row in details.get("by_level", {}).items():
            ci = row.get("ci")
            rate = row.get("overturn_rate")
            rows.append(
                {
                    "level": level,
                    **{k: row.get(k, 0) for k in ("items", "reviewed", "accepted", "corrected", "rejected")},
                    "overturned": row.get("overturned", 0),
                    "rate": "—" if rate is None else f"{fmt(rate)} {fmt_ci(ci[0], ci[1]) if ci else ''}".strip(),
                }
            )
        out.append({"name": b.name, "status": details.get("status", {}), "rows": rows})
    return out


def render_report(report: QualityReport) -> str:
    """The whole page as one string: inline CSS and SVG, no scripts, nothing fetched."""
    colors = benchmark_colors(report)
    plots = Plots()
    usage_simple, usage_nested = _usage(report)
    context = {
        "report": report,
        "benchmarks": [
            {
                "name": b.name,
                "source": b.source,
                "kind": b.kind,
                "n_items": b.n_items,
                "n_options": ", ".join(str(k) for k in b.n_options) or "—",
                "color": colors[b.name],
                "n_labelled": len(difficulty_labels(b)),
            }
            for b in report.benchmarks
        ],
        "criteria_groups": _criteria_rows(report),
        "check_rows": _check_rows(report),
        "histograms": difficulty_histograms(report, plots, colors),
        "label_vs_error": label_vs_error(report, plots, colors),
        "embedding": embedding_map(report, plots, colors),
        "positions": answer_positions(report, plots, colors),
        "accuracy": model_accuracy(report, plots, colors),
        "accuracy_rows": _accuracy_table(report),
        "memorisation": rouge_by_fraction(report, plots, colors),
        "memorisation_rows": memorisation_rows(report),
        "calibration": [(name, _cell(result)) for name, result in report.calibration.items()],
        "judge_rows": _judge_rows(report),
        "flagged": _flagged(report),
        "reviews": _reviews(report),
        "usage_simple": usage_simple,
        "usage_nested": usage_nested,
    }
    return _environment().get_template(TEMPLATE_NAME).render(**context)


def write_report(report: QualityReport, path: Path) -> None:
    """Render and write atomically: a temporary file in the same directory, then ``os.replace``."""
    path = Path(path)
    html = render_report(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
