"""A Hugging Face datasets folder: a dataset card (``README.md``) and ``data/test.jsonl`` in MMLU's columns.

``datasets.load_dataset(folder)`` reads it offline; ``huggingface-cli upload`` publishes it as is.
The card's YAML header is made by ``huggingface_hub.DatasetCardData``; its body states the
provenance (method, models, prompt versions), the quality summary and the gates. Generated text in
the body is HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from benchmaker.releases.changelog import md_code, md_text
from benchmaker.releases.exports.common import COLUMNS, DATA_FILE, ExportContext, write_rows

FOLDER = "hf"
DATA_PATH = f"data/{DATA_FILE}"

# Requirement languages written as names, to the ISO 639-1 codes the hub's card expects; others are left out.
_LANGUAGE_CODES = {
    "arabic": "ar", "chinese": "zh", "dutch": "nl", "english": "en", "french": "fr", "german": "de",
    "hindi": "hi", "italian": "it", "japanese": "ja", "korean": "ko", "polish": "pl", "portuguese": "pt",
    "russian": "ru", "spanish": "es", "swedish": "sv", "turkish": "tr", "ukrainian": "uk", "vietnamese": "vi",
}  # fmt: skip


def language_code(language: str | None) -> str | None:
    if not language:
        return None
    text = language.strip().lower()
    return text if text in _LANGUAGE_CODES.values() else _LANGUAGE_CODES.get(text)


def size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "1M<n<10M"


def _value(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return f"not computable ({md_text(result.get('reason') or '', 100)})"
    text = f"{result['value']:.3g}"
    if result.get("ci_low") is not None and result.get("ci_high") is not None:
        text += f" [{result['ci_low']:.3g}, {result['ci_high']:.3g}]"
    return text


def card_body(context: ExportContext) -> str:
    manifest = context.manifest
    counts = manifest.counts
    reasons = "".join(f", {n} {reason}" for reason, n in sorted(counts.dropped_by_reason.items()))
    lines = [
        f"# {md_text(manifest.name, 64)} v{manifest.version}",
        "",
        f"A multiple-choice benchmark made by benchmaker: {counts.total} items ({counts.new} new, "
        f"{counts.anchors} anchors carried over from the previous version). Released {manifest.created_at}.",
        "",
    ]
    if context.requirement:
        lines += [f"Requirement: {md_text(context.requirement, 500)}", ""]
    lines += [
        "Columns: `question`, `subject`, `choices`, `answer` (0-based index) as in MMLU, plus `id` (hash of the "
        "normalised question and options), `answer_letter`, `version`, `first_version`, `anchor`, `key_evidence` "
        "(what backs the key: program, judge, generator, human...), `difficulty`, `method`, `generator_model`, "
        "`source_run`, `review` (accepted, corrected, human_written, or null when unreviewed).",
        "",
        "## Provenance",
        "",
    ]
    for source in manifest.sources:
        models = ", ".join(f"{role}={md_text(str(spec), 80)}" for role, spec in source.models.items())
        lines += [
            f"- run {md_code(source.run_id)} (config {md_code(source.config_hash)}, seed {source.seed}): "
            f"method {md_text(source.method, 40)}, {source.items} items; models: {models or '-'}",
        ]
        for prompt, ref in sorted(source.prompt_versions.items()):
            lines.append(f"  - prompt {md_text(prompt, 80)}: {md_text(str(ref), 120)}")
    lines += [
        "",
        f"Dedup: {counts.dropped} of {counts.candidates} candidates dropped{reasons} against every "
        f"earlier version and {len(manifest.against)} public sets "
        f"(embedding model {md_text(manifest.embedding_model)}).",
        "",
        "## Quality",
        "",
    ]
    if not manifest.quality:
        lines.append("Not scored.")
    for run_id, summary in (manifest.quality or {}).items():
        lines += [f"Run {md_code(run_id)}:", "", "| measure | value |", "|---|---|"]
        for group in ("criteria", "checks"):
            for name, result in summary.get(group, {}).items():
                lines.append(f"| {md_text(name, 60)} | {_value(result)} |")
        lines.append("")
    lines += ["", "## Gates", "", "| gate | status | detail |", "|---|---|---|"]
    for gate in manifest.gates:
        lines.append(f"| {gate.name} | {gate.status} | {md_text(gate.reason, 200)} |")
    return "\n".join(lines) + "\n"


def card_features() -> list[dict[str, str]]:
    """``dataset_info.features`` of the card: the declared type of every column."""
    return [
        {"name": name, "list": dtype[5:-1]} if dtype.startswith("list[") else {"name": name, "dtype": dtype}
        for name, dtype in COLUMNS
    ]


def write(directory: Path, context: ExportContext) -> str:
    """Writes the folder; returns the data file's path inside it."""
    write_rows(directory / DATA_PATH, context.items, context.version)
    code = language_code(context.language)
    data = DatasetCardData(
        license=context.manifest.settings.get("license", "unknown"),
        language=[code] if code else None,
        pretty_name=f"{context.name} v{context.version}",
        size_categories=[size_category(len(context.items))],
        task_categories=["multiple-choice", "question-answering"],
        task_ids=["multiple-choice-qa"],
        tags=["benchmaker", "synthetic"],
        configs=[{"config_name": "default", "data_files": [{"split": "test", "path": DATA_PATH}]}],
        dataset_info={"features": card_features()},
    )
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{card_body(context)}")
    card.save(directory / "README.md")
    return DATA_PATH
