"""The report's matplotlib plots, drawn off pyplot with the ``Figure`` API and returned as self-contained inline SVG."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from benchmaker.scoring.report_format import finite, fmt, truncate
from benchmaker.scoring.schema import BenchmarkQuality, QualityReport

RASTERIZE_ABOVE = 4000  # scatter points drawn as an embedded bitmap above this many

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]

_RC = {
    "svg.fonttype": "path",  # glyphs as paths: looks the same in every browser, no font needed
    "text.parse_math": False,  # a '$' in a model name is text, not mathtext
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 150,  # only used for rasterized parts (very large scatter plots)
}


def _legend_label(text: str) -> str:
    # matplotlib hides legend entries whose label starts with an underscore.
    return " " + text if text.startswith("_") else text


def benchmark_colors(report: QualityReport) -> dict[str, str]:
    return {b.name: PALETTE[i % len(PALETTE)] for i, b in enumerate(report.benchmarks)}


def model_order(report: QualityReport) -> list[str]:
    models = list(dict.fromkeys(report.panel))
    for b in report.benchmarks:
        for acc in b.panel_accuracy:
            if acc.model not in models:
                models.append(acc.model)
    return models


# --------------------------------------------------------------------------- SVG


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(xlink:href="#|href="#|url\(#)([^")]+)')


def _clean_svg(svg: str, prefix: str) -> str:
    """matplotlib's SVG made fit to inline: no XML prologue, metadata or namespace URLs; unique ids."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)  # the text of each label, escaped; not needed
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0), svg)
    # The global '*{stroke-linejoin...}' rule matplotlib puts in <defs><style> would apply page-wide.
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg role="img" style="stroke-linejoin:round;stroke-linecap:butt" ', 1)
    return svg.strip()


class Plots:
    """Makes figures under the report's rc settings and turns them into inline SVG."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def figure(self, width: float, height: float) -> Iterator[Figure]:
        with matplotlib.rc_context(_RC):
            fig = Figure(figsize=(width, height), layout="constrained")
            try:
                yield fig
            finally:
                fig.clear()

    def svg(self, fig: Figure) -> Markup:
        self.count += 1
        prefix = f"plot{self.count}"
        buf = io.StringIO()
        with matplotlib.rc_context({**_RC, "svg.hashsalt": prefix}):
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Type": None, "Format": None})
        # Only markup drawn by this module is ever marked safe.
        return Markup(_clean_svg(buf.getvalue(), prefix))


@dataclass
class Plot:
    title: str
    svg: Markup | None = None
    note: str | None = None  # "not available: …" when there is no svg
    caption: str = ""
    excluded: list[str] = field(default_factory=list)  # benchmarks left out, with why


# --------------------------------------------------------------------------- plots


def difficulty_labels(b: BenchmarkQuality) -> list[float]:
    return [it.difficulty_label for it in b.items if finite(it.difficulty_label)]


def _is_discrete(values: list[float]) -> bool:
    return all(float(v).is_integer() for v in values) and len(set(values)) <= 15


def difficulty_histograms(report: QualityReport, plots: Plots, colors: dict[str, str]) -> list[Plot]:
    out = []
    for b in report.benchmarks:
        labels = difficulty_labels(b)
        title = b.name
        if not labels:
            why = "no item has a difficulty label" if b.items else "the report holds no items"
            if b.kind == "imported" and b.items:
                why += " (imported benchmark)"
            out.append(Plot(title=title, note=f"not available: {why}"))
            continue
        with plots.figure(4.0, 2.4) as fig:
            ax = fig.add_subplot()
            if _is_discrete(labels):
                lo, hi = int(min(labels)), int(max(labels))
                xs = list(range(lo, hi + 1))
                ys = [sum(1 for v in labels if v == x) for x in xs]
                ax.bar(xs, ys, color=colors[b.name], width=0.7)
                ax.set_xticks(xs)
                ax.grid(axis="x", visible=False)
            else:
                bins = int(min(20, max(5, math.ceil(math.sqrt(len(labels))))))
                ax.hist(labels, bins=bins, color=colors[b.name], edgecolor="white")
            ax.set_xlabel("difficulty label")
            ax.set_ylabel("items")
            svg = plots.svg(fig)
        out.append(Plot(title=title, svg=svg, caption=f"{len(labels)} of {len(b.items)} items labelled"))
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)


def label_vs_error(report: QualityReport, plots: Plots, colors: dict[str, str]) -> Plot:
    title = "Difficulty label vs panel error rate"
    series, excluded = [], []
    for b in report.benchmarks:
        pairs = [
            (it.difficulty_label, it.panel_error_rate)
            for it in b.items
            if finite(it.difficulty_label, it.panel_error_rate)
        ]
        if pairs:
            series.append((b, np.array(pairs, dtype=float)))
        elif not difficulty_labels(b):
            excluded.append(f"{b.name}: no difficulty labels")
        else:
            excluded.append(f"{b.name}: no panel error rates")
    if not series:
        return Plot(
            title=title,
            note="not available: no benchmark has items with both a difficulty label and a panel error rate",
            excluded=excluded,
        )
    discrete = _is_discrete([float(v) for _, a in series for v in a[:, 0]])
    rng = np.random.default_rng(0)
    offsets = np.linspace(-0.15, 0.15, len(series)) if discrete and len(series) > 1 else np.zeros(len(series))
    with plots.figure(11.5, 4.2) as fig:
        ax = fig.add_subplot()
        for (b, a), offset in zip(series, offsets, strict=True):
            x, y = a[:, 0], a[:, 1]
            rho = _spearman(x, y)
            label = f"{b.name} (n={len(a)}" + (f", Spearman ρ={rho:.2f})" if rho is not None else ")")
            jitter = rng.uniform(-0.08, 0.08, len(x)) if discrete else 0.0
            ax.scatter(
                x + offset + jitter,
                y,
                s=14,
                alpha=0.45,
                color=colors[b.name],
                linewidths=0,
                label=_legend_label(label),
                rasterized=len(x) > RASTERIZE_ABOVE,
            )
            if discrete:
                levels = np.unique(x)
                means = [y[x == v].mean() for v in levels]
                ax.plot(levels + offset, means, color=colors[b.name], marker="D", markersize=5, linewidth=1.6)
        jittered = " (points jittered; diamonds: mean per label)" if discrete else ""
        ax.set_xlabel("difficulty label" + jittered)
        ax.set_ylabel("panel error rate")
        ax.set_ylim(-0.04, 1.04)
        if discrete:
            ax.set_xticks(np.unique(np.concatenate([a[:, 0] for _, a in series])))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, markerscale=1.8)
        svg = plots.svg(fig)
    return Plot(
        title=title,
        svg=svg,
        excluded=excluded,
        caption="A controllable generator's harder labels should draw more panel errors.",
    )


def embedding_map(report: QualityReport, plots: Plots, colors: dict[str, str]) -> Plot:
    title = "Embedding map (2-D projection of item embeddings)"
    series, excluded = [], []
    for b in report.benchmarks:
        xy = [it.embedding_2d for it in b.items if it.embedding_2d is not None and finite(*it.embedding_2d)]
        if xy:
            series.append((b, np.array(xy, dtype=float)))
        else:
            excluded.append(f"{b.name}: no 2-D coordinates")
    if not series:
        return Plot(title=title, note="not available: no item has 2-D embedding coordinates", excluded=excluded)
    with plots.figure(11.5, 5.2) as fig:
        ax = fig.add_subplot()
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color("#bbb")
        for b, xy in series:
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=12,
                alpha=0.55,
                color=colors[b.name],
                linewidths=0,
                label=_legend_label(f"{b.name} (n={len(xy)})"),
                rasterized=len(xy) > RASTERIZE_ABOVE,
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, markerscale=1.6)
        svg = plots.svg(fig)
    return Plot(
        title=title,
        svg=svg,
        excluded=excluded,
        caption=f"Coordinates from {report.embedding_model}; overlapping clouds mean similar content.",
    )


def answer_positions(report: QualityReport, plots: Plots, colors: dict[str, str]) -> Plot:

    title = "Answer positions"
    series, excluded = [], []
    for b in report.benchmarks:
        check = b.checks.get("answer_position_balance")
        counts = check.details.get("counts") if check is not None else None
        if isinstance(counts, dict) and counts and all(finite(v) for v in counts.values()):
            total = sum(counts.values())
            if total > 0:
                series.append((b, check, {str(k): float(v) for k, v in counts.items()}, total))
                continue
        excluded.append(f"{b.name}: no answer-position counts")
    if not series:
        return Plot(title=title, note="not available: no benchmark reports answer-position counts", excluded=excluded)
    letters = sorted({k for _, _, c, _ in series for k in c})
    width = 0.8 / len(series)
    with plots.figure(11.5, 3.6) as fig:
        ax = fig.add_subplot()
        x = np.arange(len(letters))
        for i, (b, check, counts, total) in enumerate(series):
            share = [counts.get(k, 0.0) / total for k in letters]
            # artefacts.answer_position_balance: the check's value is the chi-square p-value.
            p = check.details.get("p_value", check.value if check.status == "ok" else None)
            label = f"{b.name} (n={fmt(total)}" + (f", χ² p={fmt(p)})" if finite(p) else ")")
            ax.bar(
                x - 0.4 + width * (i + 0.5), share, width=width * 0.92, color=colors[b.name], label=_legend_label(label)
            )
        ks = {len(c) for _, _, c, _ in series}
        if len(ks) == 1:
            k = ks.pop()
            ax.axhline(1 / k, color="#444", linestyle="--", linewidth=1, label=f"uniform (1/{k})")
        ax.set_xticks(x, letters)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("share of items")
        ax.set_xlabel("position of the correct option")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        svg = plots.svg(fig)
    return Plot(title=title, svg=svg, excluded=excluded)


def model_accuracy(report: QualityReport, plots: Plots, colors: dict[str, str]) -> Plot:

    title = "Panel accuracy per model (Wilson 95% intervals)"
    present = [b for b in report.benchmarks if b.panel_accuracy]
    excluded = [f"{b.name}: no panel accuracy" for b in report.benchmarks if not b.panel_accuracy]
    if not present:
        return Plot(title=title, note="not available: no panel accuracy in this report", excluded=excluded)
    models = [m for m in model_order(report) if any(a.model == m for b in present for a in b.panel_accuracy)]
    height = min(16.0, max(2.2, 0.2 * len(models) * len(present) + 0.3 * len(models) + 0.9))
    bar = 0.8 / len(present)
    with plots.figure(11.5, height) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(models))
        for i, b in enumerate(present):
            by_model = {a.model: a for a in b.panel_accuracy}
            ys, acc, err_lo, err_hi = [], [], [], []
            for j, m in enumerate(models):
                a = by_model.get(m)
                if a is None:
                    continue
                ys.append(j - 0.4 + bar * (i + 0.5))
                acc.append(a.accuracy)
                err_lo.append(max(0.0, a.accuracy - a.ci_low))
                err_hi.append(max(0.0, a.ci_high - a.accuracy))
            ax.barh(
                ys,
                acc,
                height=bar * 0.9,
                color=colors[b.name],
                xerr=[err_lo, err_hi],
                error_kw={"ecolor": "#333", "capsize": 3, "elinewidth": 1},
                label=_legend_label(b.name),
            )
        options = {k for b in present for k in b.n_options}
        if len(options) == 1:
            k = options.pop()
            ax.axvline(1 / k, color="#444", linestyle=":", linewidth=1.2, label=f"chance (1/{k})")
        ax.set_yticks(y, [truncate(m, 48) for m in models])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        svg = plots.svg(fig)
    caption = ""
    if len(models) == 1:
        caption = "A panel of one model: no comparison between models is possible."
    return Plot(title=title, svg=svg, excluded=excluded, caption=caption)
