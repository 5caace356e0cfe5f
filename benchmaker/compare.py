"""Methods side by side: what each run cost, what it kept, and (on computable domains) how many keys are right.

Figures come only from what the runs recorded: manifest summaries, ``llm_calls.jsonl``, items and
rejections. ``requests`` are the calls a run made, answered by the provider or by the cache (the
cost of the method, not of this run); ``completions`` count each of a request's n samples (the
embedded server answers n samples with n requests, so on ``local`` completions are the calls made);
``llm_seconds`` are the seconds the calls took when first made; dollars are only what was paid.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from benchmaker.answer_checks import KeyCheck, get_checker, summarise
from benchmaker.config import RunConfig, parse_config
from benchmaker.errors import ConfigError
from benchmaker.items import BenchmarkItem
from benchmaker.store import RunStore, write_json_atomic

STEP_PREFIX = "benchmaker-no-"


SINGLE_PROGRAM = "benchmaker-single-program"
"""The key policy before agreeing programs: one program decides, its value is written into the options on its
word alone (when the base config repairs options at all), and drafts are not checked against the requirement."""


def variant_config(base: RunConfig, variant: str) -> RunConfig:
    """``direct``, ``benchmaker``, ``benchmaker-no-<step>`` (one step switched off, for ablations;
    ``benchmaker-no-program`` switches program-verified keys off, ``benchmaker-no-checks`` the draft checks),
    ``benchmaker-repair`` (options with no computed value get it written in when the generator's own value
    confirms it, see ``benchmaker.program.repair_options``), ``benchmaker-value-first`` (choices built around
    the programs' value, ``benchmaker.program.order``) or ``benchmaker-single-program`` (the old key policy,
    side by side with the new one)."""
    data = base.model_dump(mode="json")
    if variant in ("direct", "benchmaker"):
        data["method"] = variant
    elif variant == f"{STEP_PREFIX}program":
        data["method"] = "benchmaker"
        data["benchmaker"]["program"]["mode"] = "off"
    elif variant == f"{STEP_PREFIX}checks":
        data["method"] = "benchmaker"
        data["benchmaker"]["checks"] = {"single_question": False, "constraints": False}
    elif variant == "benchmaker-value-first":
        data["method"] = "benchmaker"
        data["benchmaker"]["program"]["order"] = "value_first"
    elif variant == "benchmaker-repair":
        data["method"] = "benchmaker"
        data["benchmaker"]["program"]["repair_options"] = "confirmed"
    elif variant == SINGLE_PROGRAM:
        data["method"] = "benchmaker"
        program = data["benchmaker"]["program"]
        program.update(programs=1, generator_value=False, temperature=0.0)
        program["repair_options"] = "off" if program["repair_options"] == "off" else "unconfirmed"
        data["benchmaker"]["checks"] = {"single_question": False, "constraints": False}
        data["benchmaker"]["key_evidence"] = ["program+generator", "program+judge", "program"]
    elif variant.startswith(STEP_PREFIX):
        step = variant.removeprefix(STEP_PREFIX).replace("-", "_")
        steps = data["benchmaker"]["steps"]
        if step not in steps:
            known = ", ".join([*steps, "program", "checks"])
            raise ConfigError(f"unknown step {step!r} in variant {variant!r}; steps: {known}")
        data["method"] = "benchmaker"
        steps[step] = False
        if step == "self_test":
            steps["discrimination"] = False  # discrimination needs the solver's answers
    else:
        raise ConfigError(
            f"unknown variant {variant!r}: use direct, benchmaker, benchmaker-repair, benchmaker-value-first, "
            f"{SINGLE_PROGRAM} or {STEP_PREFIX}<step>"
        )
    return parse_config(data, source=f"variant {variant}")


class MethodRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    run_dir: str
    method: str
    status: str
    accepted: int
    target: int
    attempts: int
    acceptance_rate: float | None
    rejections: dict[str, int]
    requests: int
    completions: int
    tokens: int
    cost_usd: float
    llm_seconds: float
    wall_seconds: float
    """This run's own wall time: small when it was replayed from the cache."""
    per_item: dict[str, float | None]
    difficulty: dict[str, Any]
    relabelled: int
    conflicts: int
    answer_balance_p: float | None
    program: dict[str, Any] | None = None
    """The run's program-verification summary (None: no answer-key program ran)."""
    key_check: dict[str, Any] | None = None
    checks: list[dict[str, Any]] | None = None
    rejected_key_check: dict[str, Any] | None = None
    """The checker on the questions the method turned down (their generator keys): how often the
    verification steps rejected a wrong key, and how often a right one."""
    key_check_by_evidence: dict[str, dict[str, Any]] | None = None
    """The checker's verdicts on the accepted items, per key evidence level: how far each level can be trusted."""
    evidence: dict[str, int] = {}
    """Accepted items per key evidence level."""


def _per(value: float, count: int) -> float | None:
    return round(value / count, 3) if count else None


def summarise_run(run_dir: Path, label: str | None = None, checker: str | None = None) -> MethodRow:
    store = RunStore.open(run_dir)
    manifest = store.manifest()
    summary = manifest.get("summary") or {}
    config = store.config()
    items = store.items()
    # What the method needs per item, whether this run paid for it or replayed it from the cache
    # (a compare re-run, or a second run with the same seed, is answered from the cache).
    calls = [call for call in store.calls() if call.error is None]  # a call that failed for good answered nothing
    requests = len(calls)
    completions = sum(call.n for call in calls)
    tokens = sum(call.input_tokens + call.output_tokens for call in calls)
    cost = sum(call.cost_usd for call in calls if not call.cached)
    llm_seconds = sum(call.first_latency_s or call.latency_s for call in calls)
    accepted = len(items)
    rejections = store.rejections()
    attempts = summary.get("attempts", len({i.attempt for i in items} | {r.attempt for r in rejections}))
    labels = [i.difficulty for i in items if i.difficulty is not None]
    checks: list[KeyCheck] = []
    rejected_checks: list[KeyCheck] = []
    if checker is not None:
        check = get_checker(checker)
        checks = [check(item.question, item.choices, item.answer_index) for item in items]
        drafts = [r.draft for r in rejections if r.draft is not None]
        rejected_checks = [check(d.question, list(d.choices), d.answer_index) for d in drafts]
    return MethodRow(
        label=label or config.method,
        run_dir=str(run_dir),
        method=config.method,
        status=manifest.get("status", "unknown"),
        accepted=accepted,
        target=config.requirement.n_items,
        attempts=attempts,
        acceptance_rate=round(accepted / attempts, 4) if attempts else None,
        rejections=dict(Counter(f"{r.stage}:{r.reason}" for r in rejections)),
        requests=requests,
        completions=completions,
        tokens=tokens,
        cost_usd=round(cost, 6),
        llm_seconds=round(llm_seconds, 1),
        wall_seconds=float(summary.get("wall_seconds_total", 0.0)),
        per_item={
            "requests": _per(requests, accepted),
            "completions": _per(completions, accepted),
            "tokens": _per(tokens, accepted),
            "llm_seconds": _per(llm_seconds, accepted),
            "cost_usd": _per(cost, accepted),
        },
        difficulty={
            "labelled": len(labels),
            "mean": round(statistics.fmean(labels), 3) if labels else None,
            "histogram": dict(sorted(Counter(round(x) for x in labels).items())),
        },
        relabelled=sum(bool(i.metadata.get("relabelled")) for i in items),
        conflicts=sum(bool(i.metadata.get("conflict")) for i in items),
        answer_balance_p=(summary.get("answer_balance") or {}).get("p_value"),
        program=summary.get("program_verification"),
        key_check=summarise(checks) if checker is not None else None,
        checks=[{"item_id": item.id, **c.model_dump()} for item, c in zip(items, checks, strict=True)]
        if checker is not None
        else None,
        rejected_key_check=summarise(rejected_checks) if checker is not None else None,
        key_check_by_evidence={
            level: summarise(c for item, c in zip(items, checks, strict=True) if _level(item) == level)
            for level in sorted({_level(item) for item in items})
        }
        if checker is not None
        else None,
        evidence=dict(Counter(_level(item) for item in items)),
    )


def _level(item: BenchmarkItem) -> str:
    return str(item.metadata.get("key_evidence") or "unrecorded")


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    created_at: str
    requirement: str
    checker: str | None
    rows: list[MethodRow]


def compare_runs(run_dirs: list[tuple[str | None, Path]], checker: str | None = None) -> Comparison:
    if not run_dirs:
        raise ConfigError("nothing to compare: give at least one run")
    rows = [summarise_run(path, label, checker) for label, path in run_dirs]
    requirement = RunStore.open(run_dirs[0][1]).config().requirement.description
    return Comparison(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        requirement=requirement,
        checker=checker,
        rows=rows,
    )


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(comparison: Comparison) -> str:
    header = [
        "method",
        "accepted",
        "attempts",
        "acceptance",
        "requests/item",
        "completions/item",
        "tokens/item",
        "LLM s/item",
        "wall s",
        "mean difficulty",
        "relabelled",
        "keys by program",
        "program agreed",
    ]
    if comparison.checker:
        header += [f"keys correct ({comparison.checker})", "rejected drafts with wrong keys"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison.rows:
        cells = [
            row.label,
            f"{row.accepted}/{row.target}",
            str(row.attempts),
            _fmt(row.acceptance_rate),
            _fmt(row.per_item["requests"], 1),
            _fmt(row.per_item["completions"], 1),
            _fmt(row.per_item["tokens"], 0),
            _fmt(row.per_item["llm_seconds"], 0),
            _fmt(row.wall_seconds, 0),
            _fmt(row.difficulty["mean"]),
            str(row.relabelled),
            f"{row.program['accepted_with_program_key']}/{row.accepted}" if row.program else "off",
            f"{row.program['outcomes']['agree']}/{row.program['drafts_checked']} drafts" if row.program else "off",
        ]
        if comparison.checker and row.key_check is not None:
            check = row.key_check
            checked = check["correct"] + check["wrong"]
            cells.append(f"{check['correct']}/{checked} ({check['unchecked']} unchecked)")
            turned_down = row.rejected_key_check or {}
            cells.append(f"{turned_down.get('wrong', 0)}/{turned_down.get('correct', 0) + turned_down.get('wrong', 0)}")
        lines.append("| " + " | ".join(cells) + " |")
    rejections = [f"- {row.label}: {row.rejections or 'none'}" for row in comparison.rows]
    evidence = [f"- {row.label}: {_by_level(row)}" for row in comparison.rows]
    return "\n".join(
        [*lines, "", "Rejections (stage:reason):", *rejections, "", "Key evidence of accepted items:", *evidence, ""]
    )


def _by_level(row: MethodRow) -> str:
    if not row.evidence:
        return "none"
    parts = []
    for level, count in sorted(row.evidence.items()):
        check = (row.key_check_by_evidence or {}).get(level)
        correct = f", {check['correct']}/{check['correct'] + check['wrong']} correct" if check else ""
        parts.append(f"{level} {count}{correct}")
    return "; ".join(parts)


def comparison_figure(comparison: Comparison, path: Path) -> None:
    """Bar charts of the per-method figures, as a standalone SVG."""
    import matplotlib
    from matplotlib.figure import Figure

    # (title, values, is a share): a missing value is drawn as "n/a", never as a zero bar
    panels: list[tuple[str, list[float | None], bool]] = [
        ("acceptance rate", [r.acceptance_rate for r in comparison.rows], True),
        ("completions per accepted item", [r.per_item["completions"] for r in comparison.rows], False),
        ("tokens per accepted item", [r.per_item["tokens"] for r in comparison.rows], False),
        ("LLM seconds per accepted item", [r.per_item["llm_seconds"] for r in comparison.rows], False),
    ]
    if comparison.checker:
        panels.append(
            (
                f"keys correct ({comparison.checker})",
                [(r.key_check or {}).get("correct_share") for r in comparison.rows],
                True,
            )
        )
    labels = [r.label for r in comparison.rows]
    with matplotlib.rc_context({"svg.fonttype": "path", "text.parse_math": False, "font.size": 9}):
        fig = Figure(figsize=(3.2 * len(panels), 3.0), layout="constrained")
        colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
        for index, (title, values, share) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), index + 1)
            heights = [v if v is not None else 0.0 for v in values]
            bars = ax.bar(labels, heights, color=[colors[i % len(colors)] for i in range(len(labels))])
            ax.bar_label(bars, labels=[f"{v:.3g}" if v is not None else "n/a" for v in values])
            if share:
                ax.set_ylim(0, 1.1)
            ax.set_title(title)
            ax.tick_params(axis="x", rotation=20)
        requirement = comparison.requirement
        fig.suptitle(requirement if len(requirement) <= 100 else requirement[:97] + "...")
        fig.savefig(path, format="svg", metadata={"Date": None})


def write_comparison(comparison: Comparison, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / "comparison.json", json.loads(comparison.model_dump_json()))
    (directory / "comparison.md").write_text(
        f"# Methods compared\n\nRequirement: {comparison.requirement}\n\n{markdown_table(comparison)}", encoding="utf-8"
    )
    comparison_figure(comparison, directory / "comparison.svg")
    return directory
