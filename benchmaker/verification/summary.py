"""What program verification did over a run: how many drafts a program checked, how often it agreed
with the generator's key, and which keys of the accepted items a program backs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from benchmaker.items import BenchmarkItem, Rejection

OUTCOMES = ("agree", "disagree", "no_match", "ambiguous", "failed")


def program_summary(items: Sequence[BenchmarkItem], rejections: Iterable[Rejection]) -> dict[str, Any] | None:
    """None when no program ever ran in the run (verification off or not reached)."""
    outcomes: Counter[str] = Counter()
    layer_sets: list[set[str]] = []
    records = [item.metadata.get("program") for item in items]
    rejected_reasons: Counter[str] = Counter()
    for rejection in rejections:
        record = rejection.evidence.get("program")
        records.append(record)
        if record:
            rejected_reasons[rejection.reason] += 1
    for record in records:
        if record:
            outcomes[record["outcome"]] += 1
            layer_sets += [set(run["run"].get("isolation", ())) for run in record.get("tries", [])]
    checked = sum(outcomes.values())
    if not checked:
        return None
    with_result = checked - outcomes["failed"]
    backed = [item for item in items if item.metadata.get("key_evidence") == "program"]
    return {
        "drafts_checked": checked,
        "outcomes": {name: outcomes[name] for name in OUTCOMES},
        "agreement_rate": round(outcomes["agree"] / with_result, 4) if with_result else None,
        "program_failure_rate": round(outcomes["failed"] / checked, 4),
        "accepted_with_program_key": len(backed),
        "accepted_share_with_program_key": round(len(backed) / len(items), 4) if items else None,
        "accepted_by_outcome": dict(Counter(item.metadata["program"]["outcome"] for item in backed)),
        "options_repaired": sum(bool(item.metadata.get("options_repaired")) for item in items),
        "rejected_after_program": dict(rejected_reasons),
        # The isolation layers every program of the run ran under (see benchmaker.verification.sandbox).
        "isolation": sorted(set.intersection(*layer_sets)) if layer_sets else [],
    }
