"""What changed between two versions: new, retired and anchor items; ``CHANGELOG.md`` and ``release diff``.

Question texts come from a model: in Markdown they are HTML-escaped, cut to one line, and their
table pipes escaped, so no generated text reaches a rendered page as markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from benchmaker.releases.models import ReleaseItem, ReleaseManifest, ReviewedItemRef


def md_text(text: str, limit: int = 140) -> str:
    """One escaped Markdown line (safe in a table cell)."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    escaped = html.escape(flat, quote=False)
    for char in "|`*_":
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def md_code(text: str, limit: int = 100) -> str:
    """A code span: its content is shown literally by Markdown, so only backticks and line breaks go."""
    flat = " ".join(str(text).replace("`", "'").split())[:limit]
    return f"`{flat}`"


@dataclass(frozen=True)
class VersionDiff:
    added: list[ReleaseItem]
    """In the newer version only."""
    removed: list[ReleaseItem]
    """In the older version only (retired)."""
    common: list[ReleaseItem]
    """In both (anchors, when the newer version follows the older one directly)."""


def diff_items(old: Sequence[ReleaseItem], new: Sequence[ReleaseItem]) -> VersionDiff:
    old_ids = {item.id for item in old}
    new_ids = {item.id for item in new}
    return VersionDiff(
        added=[item for item in new if item.id not in old_ids],
        removed=[item for item in old if item.id not in new_ids],
        common=[item for item in new if item.id in old_ids],
    )


def _item_table(items: Sequence[ReleaseItem]) -> list[str]:
    if not items:
        return ["(none)", ""]
    lines = ["| id | first version | key evidence | question |", "|---|---|---|---|"]
    for item in items:
        evidence = md_text(str(item.metadata.get("key_evidence") or "-"), 40)
        lines.append(f"| {md_code(item.id)} | v{item.first_version} | {evidence} | {md_text(item.question)} |")
    return [*lines, ""]


def _refs_table(refs: Sequence[ReviewedItemRef]) -> list[str]:
    lines = ["| id | status | reviewer | reason or note | question |", "|---|---|---|---|---|"]
    for ref in refs:
        why = " ".join(x for x in (ref.reason or "", ref.note) if x) + (" (key changed)" if ref.key_changed else "")
        lines.append(
            f"| {md_code(ref.id)} | {ref.status} | {md_text(ref.reviewer, 60)} | {md_text(why, 160)} "
            f"| {md_text(ref.question)} |"
        )
    return [*lines, ""]


def _review_section(manifest: ReleaseManifest) -> list[str]:
    review = manifest.review
    if review is None:
        return []
    corrected = sum(run.corrected for run in review.runs)
    accepted = sum(run.accepted for run in review.runs)
    left = sum(run.left_out_unreviewed for run in review.runs)
    lines = [
        "## Human review",
        "",
        f"{accepted} new items accepted and {corrected} corrected by reviewers (corrected items carry key evidence "
        f"`human` and their revisions); {len(review.rejected)} rejected items left out"
        + (f"; {left} unreviewed items left out (only reviewed items asked)" if left else "")
        + (f"; {review.human_items} human-written candidates" if review.human_items else "")
        + ".",
        "",
    ]
    if review.rejected:
        lines += [f"### Rejected by reviewers ({len(review.rejected)})", "", *_refs_table(review.rejected)]
    if review.anchors_rejected:
        lines += [f"### Anchors rejected ({len(review.anchors_rejected)})", "", *_refs_table(review.anchors_rejected)]
    if review.errata:
        lines += [
            f"### Errata: earlier items rejected or corrected since ({len(review.errata)})",
            "",
            *_refs_table(review.errata),
        ]
    return lines


def render_changelog(manifest: ReleaseManifest, items: Sequence[ReleaseItem], previous: Sequence[ReleaseItem]) -> str:
    counts = manifest.counts
    title = f"# {manifest.name} v{manifest.version}"
    runs = ", ".join(md_code(s.run_id) for s in manifest.sources) or "no run"
    lines = [title, "", f"{manifest.created_at}, {manifest.kind} from {runs}.", ""]
    if manifest.previous_version is None:
        lines += [f"First version: {counts.total} items.", ""]
    else:
        lines += [
            f"Against v{manifest.previous_version}: {counts.new} new items, {counts.retired} retired, "
            f"{counts.anchors} anchors carried over; {counts.total} items in all.",
            "",
        ]
    lines += ["## Gates", "", "| gate | status | value | threshold | detail |", "|---|---|---|---|---|"]
    for gate in manifest.gates:
        value = "-" if gate.value is None else f"{gate.value:g}"
        threshold = "-" if gate.threshold is None else f"{gate.threshold:g}"
        lines.append(f"| {gate.name} | {gate.status} | {value} | {threshold} | {md_text(gate.reason, 200)} |")
    diff = diff_items(previous, items)
    new_items = [item for item in items if not item.anchor]
    anchors = [item for item in items if item.anchor]
    lines += ["", f"## New items ({len(new_items)})", "", *_item_table(new_items)]
    if manifest.previous_version is not None:
        lines += [f"## Anchors from v{manifest.previous_version} ({len(anchors)})", "", *_item_table(anchors)]
        lines += [f"## Retired from v{manifest.previous_version} ({len(diff.removed)})", "", *_item_table(diff.removed)]
    lines += _review_section(manifest)
    lines += [f"## Dropped candidates ({len(manifest.dropped)})", ""]
    if manifest.dropped:
        lines += ["| id | reason | collided with | similarity / shared words | question |", "|---|---|---|---|---|"]
        for drop in manifest.dropped:
            other = drop.collided_with
            evidence = drop.detail or ("" if drop.score is None else f"{drop.score:.3f}")
            lines.append(
                f"| {md_code(drop.item_id)} | {drop.reason} | {md_text(other.origin, 60)} {md_code(other.id)} "
                f"| {md_text(evidence, 120)} | {md_text(drop.question)} |"
            )
    else:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def render_diff(name: str, old_version: int, new_version: int, diff: VersionDiff) -> str:
    """Plain text for the terminal: counts, then one line per item."""
    lines = [
        f"{name} v{old_version} -> v{new_version}: {len(diff.added)} only in v{new_version}, "
        f"{len(diff.removed)} only in v{old_version}, {len(diff.common)} in both"
    ]
    for label, items in (
        (f"only in v{new_version}", diff.added),
        (f"only in v{old_version}", diff.removed),
        ("in both", diff.common),
    ):
        for item in items:
            question = " ".join(item.question.split())
            lines.append(f"  {label}: {item.id}  {question[:100]}")
    return "\n".join(lines)
