"""What program verification did over a run: how many drafts the programs checked and how the decision
table went, how often they agreed with the generator's key, and which accepted keys a program backs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from benchmaker.evidence import is_program_backed
from benchmaker.items import BenchmarkItem, Rejection

OUTCOMES = (
    "agree", "letter_slip", "disagree", "repaired", "no_match", "unconfirmed", "ambiguous", "split", "failed",
    "built", "no_distractors",
)  # fmt: skip
"""The decision table's rows (``key_decision.py``); split and failed: no value had a majority; built and
no_distractors: order value_first (``value_first.py``)."""


def program_summary(items: Sequence[BenchmarkItem], rejections: Iterable[Rejection]) -> dict[str, Any] | None:
    """None when no program ever ran in the run (verification off or not reached)."""
    outcomes: Counter[str] = Counter()
    programs = Counter[str]()
    layer_sets: list[set[str]] = []
    records = [item.metadata.get("program") for item in items]
    rejected_reasons: Counter[str] = Counter()
    for rejection in rejections:
        record = rejection.evidence.get("program")
        if record:
            records.append(record)
            rejected_reasons[rejection.reason] += 1
    for record in filter(None, records):
        outcomes[record["outcome"]] += 1
        programs["requested"] += record.get("requested", 1)
        programs["skipped"] += record.get("skipped", 0)
        written = record.get("programs", [])
        programs["failed"] += sum(bool(p.get("failure")) for p in written)
        layer_sets += [set(t["run"].get("isolation", ())) for p in written for t in p.get("tries", [])]
    checked = sum(outcomes.values())
    if not checked:
        return None
    with_value = checked - outcomes["split"] - outcomes["failed"]
    backed = [item for item in items if is_program_backed(item.metadata.get("key_evidence"))]
    return {
        "drafts_checked": checked,
        "outcomes": {name: outcomes[name] for name in OUTCOMES},
        "agreement_rate": round(outcomes["agree"] / with_value, 4) if with_value else None,
        "no_majority_rate": round((outcomes["split"] + outcomes["failed"]) / checked, 4),
        "programs": dict(programs),
        "accepted_with_program_key": len(backed),
        "accepted_share_with_program_key": round(len(backed) / len(items), 4) if items else None,
        "accepted_by_outcome": dict(Counter(item.metadata["program"]["outcome"] for item in backed)),
        "options_repaired": sum(bool(item.metadata.get("options_repaired")) for item in items),
        "rejected_after_program": dict(rejected_reasons),
        # The isolation layers every program of the run ran under (see benchmaker.verification.sandbox).
        "isolation": sorted(set.intersection(*layer_sets)) if layer_sets else [],
    }
