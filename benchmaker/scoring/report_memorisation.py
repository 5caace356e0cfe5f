"""The report's memorisation section: ROUGE-L by prefix fraction (generated beside public) and its table."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmaker.scoring.report_format import finite, fmt, fmt_ci
from benchmaker.scoring.report_plots import Plot, Plots, _legend_label
from benchmaker.scoring.schema import QualityReport

LINE_STYLES = ["-", "--", ":", "-."]


def _entry(row: dict[str, Any], key: str) -> dict[str, Any] | None:
    entry = row.get(key)
    return entry if isinstance(entry, dict) and finite(entry.get("value")) else None


def _series(report: QualityReport) -> list[tuple[str, str, str, list[tuple[float, dict[str, Any]]]]]:
    """(benchmark, model, completion mode, [(fraction, ROUGE-L entry)]) for every benchmark and model measured."""
    out = []
    for b in report.benchmarks:
        check = b.checks.get("contamination")
        if check is None or check.status != "ok":
            continue
        for model, facts in check.details.get("models", {}).items():
            points = []
            for fraction, row in facts.get("by_fraction", {}).items():
                entry = _entry(row, "rouge_l")
                if entry is not None:
                    points.append((float(fraction), entry))
            if points:
                out.append((b.name, model, str(facts.get("mode", "")), sorted(points, key=lambda p: p[0])))
    return out


def rouge_by_fraction(report: QualityReport, plots: Plots, colors: dict[str, str]) -> Plot:
    title = "Memorisation: ROUGE-L of the model's continuation by prefix fraction"
    series = _series(report)
    excluded = [
        f"{b.name}: {b.checks['contamination'].reason}"
        for b in report.benchmarks
        if "contamination" in b.checks and b.checks["contamination"].status != "ok"
    ]
    if not series:
        return Plot(title=title, note="not available: no benchmark has a memorisation check", excluded=excluded)
    models = list(dict.fromkeys(model for _, model, _, _ in series))
    threshold = next(
        (b.checks["contamination"].details.get("rouge_threshold") for b in report.benchmarks
         if b.checks.get("contamination") is not None and b.checks["contamination"].status == "ok"),
        None,
    )  # fmt: skip
    with plots.figure(11.5, 4.0) as fig:
        ax = fig.add_subplot()
        for bench, model, mode, points in series:
            x = np.array([p[0] for p in points])
            y = np.array([p[1]["value"] for p in points])
            low = np.array([p[1].get("ci_low", p[1]["value"]) for p in points])
            high = np.array([p[1].get("ci_high", p[1]["value"]) for p in points])
            style = LINE_STYLES[models.index(model) % len(LINE_STYLES)]
            label = f"{bench} · {model}" + (f" ({mode.replace('_', ' ')})" if mode else "")
            ax.errorbar(
                x,
                y,
                yerr=[np.maximum(0, y - low), np.maximum(0, high - y)],
                color=colors.get(bench, "#333"),
                linestyle=style,
                marker="o",
                capsize=3,
                label=_legend_label(label),
            )
        if finite(threshold):
            ax.axhline(float(threshold), color="#b91c1c", linestyle=":", linewidth=1, label=f"flag at {threshold:g}")
        ax.set_xlabel("share of the question's words given as prefix")
        ax.set_ylabel("mean ROUGE-L F1 vs the true rest")
        ax.set_ylim(-0.02, 1.02)
        fractions = sorted({p[0] for _, _, _, pts in series for p in pts})
        ax.set_xticks(fractions, [f"{f:.0%}" for f in fractions])
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        svg = plots.svg(fig)
    return Plot(
        title=title,
        svg=svg,
        excluded=excluded,
        caption="A model that has seen a question completes it from its beginning: high ROUGE-L means memorised. "
        "Bars: 95% bootstrap intervals over items.",
    )


def memorisation_rows(report: QualityReport) -> list[dict[str, Any]]:
    """One row per benchmark, model and fraction, for the section's table."""
    rows = []
    for b in report.benchmarks:
        check = b.checks.get("contamination")
        if check is None or check.status != "ok":
            continue
        for model, facts in check.details.get("models", {}).items():
            for fraction, row in facts.get("by_fraction", {}).items():
                cells = {}
                for key in ("rouge_l", "exact_match", "prefix_answer_accuracy"):
                    entry = _entry(row, key)
                    cells[key] = (
                        (fmt(entry["value"]), fmt_ci(entry.get("ci_low"), entry.get("ci_high"))) if entry else ("—", "")
                    )
                answer = _entry(row, "prefix_answer_accuracy")
                rows.append(
                    {
                        "benchmark": b.name,
                        "model": model,
                        "mode": str(facts.get("mode", "")).replace("_", " "),
                        "self_generated": bool(facts.get("self_generated")),
                        "fraction": f"{float(fraction):.0%}",
                        "n": fmt(row.get("n")),
                        "cells": cells,
                        "chance": fmt(answer.get("chance")) if answer else "—",
                        "flagged": f"{facts.get('flagged', 0)} of {facts.get('items_tested', 0)}",
                    }
                )
    return rows
