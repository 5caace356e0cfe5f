"""Gates a version must pass to be published, and the quality summary they read.

* ``min_items``: new (non-anchor) items after dedup, human-written ones included.
* ``min_program_backed_share``: share of new generated items whose key a program backs (see
  ``is_program_backed``); a key a reviewer corrected is ``human``, not program-backed; human-written
  items are not generated and are left out of this share and of the contamination gate.
* ``max_contamination``: share of new items the memorisation check flags (item diagnostics whose
  ``flagged`` contains ``memorised``), read from the scoring report's ``checks["contamination"]``.
  While that check is absent from the report or not computable the gate is ``not_evaluated``,
  with the reason: it neither passes silently nor blocks.
* ``min_faithfulness``: the length-debiased judge faithfulness of every source run. A minimum that
  was asked for but cannot be shown (no scoring report, no judge, too few verdicts for the fit)
  fails: it blocks.

Gates that are not configured are not listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmaker.evidence import is_program_backed
from benchmaker.releases.models import GateResult
from benchmaker.releases.settings import GateSettings

MEMORISED_FLAG = "memorised"


def _threshold_result(name: str, value: float, threshold: float, *, at_least: bool, detail: str) -> GateResult:
    ok = value >= threshold if at_least else value <= threshold
    relation = ">=" if at_least else "<="
    return GateResult(
        name=name,
        status="passed" if ok else "failed",
        value=round(value, 4),
        threshold=threshold,
        reason=f"{detail}: {value:.4g} {'' if ok else 'not '}{relation} {threshold:g}",
        blocks=not ok,
    )


def _contamination(
    quality: dict[str, dict[str, Any]] | None, new_items: Sequence[tuple[str, str]], threshold: float
) -> GateResult:
    """``new_items``: (run_id, run item id) of each new item."""
    name = "max_contamination"
    if not quality:
        return GateResult(
            name=name, status="not_evaluated", threshold=threshold, reason="no scoring report", blocks=False
        )
    flagged = considered = 0
    for run_id in sorted({run for run, _ in new_items}):
        bench = quality.get(run_id)
        check = (bench or {}).get("checks", {}).get("contamination")
        if check is None:
            return GateResult(
                name=name,
                status="not_evaluated",
                threshold=threshold,
                reason=f"the scoring report of {run_id} has no contamination check",
                blocks=False,
            )
        if check.get("status") != "ok":
            return GateResult(
                name=name,
                status="not_evaluated",
                threshold=threshold,
                reason=f"contamination not computable for {run_id}: {check.get('reason') or 'no reason given'}",
                blocks=False,
            )
        flags = bench.get("item_flags", {})
        for run, item_id in new_items:
            if run == run_id and item_id in flags:
                considered += 1
                flagged += MEMORISED_FLAG in " ".join(flags[item_id])
    if considered == 0:
        return GateResult(
            name=name,
            status="not_evaluated",
            threshold=threshold,
            reason="no new item appears in the scoring report's item diagnostics",
            blocks=False,
        )
    return _threshold_result(
        name, flagged / considered, threshold, at_least=False, detail=f"{flagged}/{considered} new items memorised"
    )


def _faithfulness(quality: dict[str, dict[str, Any]] | None, run_ids: Sequence[str], threshold: float) -> GateResult:
    name = "min_faithfulness"
    if not quality:
        return GateResult(
            name=name, status="failed", threshold=threshold, reason="no scoring report to read it from", blocks=True
        )
    values = []
    for run_id in run_ids:
        result = (quality.get(run_id) or {}).get("criteria", {}).get("faithfulness")
        if result is None or result.get("status") != "ok":
            why = "not scored" if result is None else (result.get("reason") or "not computable")
            return GateResult(
                name=name,
                status="failed",
                threshold=threshold,
                reason=f"debiased faithfulness of {run_id} cannot be shown: {why}",
                blocks=True,
            )
        values.append(float(result["value"]))
    lowest = min(values)
    return _threshold_result(name, lowest, threshold, at_least=True, detail="lowest debiased faithfulness of the runs")


def evaluate_gates(
    settings: GateSettings,
    *,
    new_items: Sequence[tuple[str, str, object]],
    run_ids: Sequence[str],
    quality: dict[str, dict[str, Any]] | None,
    human_items: int = 0,
) -> list[GateResult]:
    """``new_items``: (run_id, run item id, key_evidence) of each new generated item; ``human_items``: new
    human-written items (they count for ``min_items`` only); ``quality``: per run id, the summary
    ``summarize_quality`` makes."""
    total = len(new_items) + human_items
    detail = f"{total} new items" + (f" ({human_items} human-written)" if human_items else "")
    results = [_threshold_result("min_items", total, settings.min_items, at_least=True, detail=detail)]
    if settings.min_program_backed_share is not None:
        backed = sum(is_program_backed(evidence) for _, _, evidence in new_items)
        share = backed / len(new_items) if new_items else 0.0
        results.append(
            _threshold_result(
                "min_program_backed_share",
                share,
                settings.min_program_backed_share,
                at_least=True,
                detail=f"{backed}/{len(new_items)} new items with a program-backed key",
            )
        )
    if settings.max_contamination is not None:
        results.append(_contamination(quality, [(run, item) for run, item, _ in new_items], settings.max_contamination))
    if settings.min_faithfulness is not None:
        results.append(_faithfulness(quality, run_ids, settings.min_faithfulness))
    return results


def _result_summary(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("status", "value", "ci_low", "ci_high", "reason")
    return {key: result.get(key) for key in keep if result.get(key) is not None}


def summarize_quality(report: dict[str, Any], run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per source run id: its criteria and checks (status, value, interval, reason) and its items' flags,
    from a ``quality.json``. A scored benchmark belongs to a run when its source is that run's directory
    (matched by the directory's name, the run id, so a report made from another working directory matches)."""
    by_run = {}
    for bench in report.get("benchmarks", []):
        if bench.get("kind") == "generated":
            by_run[Path(str(bench.get("source", ""))).name] = bench
    summary = {}
    for run_id in run_ids:
        bench = by_run.get(run_id)
        if bench is None:
            continue
        summary[run_id] = {
            "benchmark": bench.get("name"),
            "n_items": bench.get("n_items"),
            "criteria": {k: _result_summary(v) for k, v in bench.get("criteria", {}).items()},
            "checks": {k: _result_summary(v) for k, v in bench.get("checks", {}).items()},
            "item_flags": {i["id"]: list(i.get("flagged", [])) for i in bench.get("items", []) if "id" in i},
        }
    return summary
