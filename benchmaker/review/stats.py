"""Review status of a set of items, and how often reviewers overturned each key evidence level.

An item's key is **overturned** when a reviewer corrected the key (another letter, or other text in
the keyed option) or rejected the item as having a wrong key. Rejections for other reasons (an
ambiguous or flawed question, off the requirement, a duplicate) are counted apart: they say the
item was bad, not that its evidence level keyed it wrongly. The overturn rate of a level is
overturned / reviewed items of that level, with a Wilson 95% interval: a direct measure of how far
keys of that level can be trusted (on the items reviewers chose to look at, which may be the flagged
ones: say so when comparing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from benchmaker.evidence import LEVELS
from benchmaker.review.models import ItemState
from benchmaker.scoring.metrics import wilson_interval

STATUSES = ("unreviewed", "accepted", "corrected", "rejected")


def overturned(state: ItemState) -> bool:
    if state.status == "rejected":
        last = state.last
        return last is not None and last.reason == "wrong_key"
    return state.status == "corrected" and state.key_changed


def review_summary(items: Iterable[tuple[Any, ItemState]]) -> dict[str, Any]:
    """``items``: (the generated key's evidence level, the item's review state) per item."""
    statuses: Counter[str] = Counter()
    levels: dict[str, Counter[str]] = {}
    reasons: Counter[str] = Counter()
    n = 0
    for level, state in items:
        n += 1
        statuses[state.status] += 1
        name = level if isinstance(level, str) else "unrecorded"
        counts = levels.setdefault(name, Counter())
        counts["items"] += 1
        if state.status == "unreviewed":
            continue
        counts["reviewed"] += 1
        counts[state.status] += 1
        if state.status == "rejected" and state.last is not None:
            reasons[state.last.reason or "other"] += 1
            counts["rejected_wrong_key" if state.last.reason == "wrong_key" else "rejected_other"] += 1
        if state.status == "corrected" and state.key_changed:
            counts["key_corrected"] += 1
        counts["overturned"] += overturned(state)
    order = {level: i for i, level in enumerate(LEVELS)}
    by_level = {}
    for name in sorted(levels, key=lambda lv: (order.get(lv, len(order)), lv)):
        counts = levels[name]
        reviewed = counts["reviewed"]
        row = {
            key: counts[key]
            for key in ("items", "reviewed", "accepted", "corrected", "key_corrected", "rejected")
            + ("rejected_wrong_key", "rejected_other", "overturned")
        }
        row["overturn_rate"] = round(counts["overturned"] / reviewed, 4) if reviewed else None
        row["ci"] = [round(x, 4) for x in wilson_interval(counts["overturned"], reviewed)] if reviewed else None
        by_level[name] = row
    return {
        "items": n,
        "reviewed": n - statuses["unreviewed"],
        "status": {status: statuses[status] for status in STATUSES},
        "reject_reasons": dict(reasons.most_common()),
        "by_level": by_level,
    }
