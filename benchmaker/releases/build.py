"""Making one version of a release from finished runs: dedup, anchors, gates, then publish or refuse.

Everything from reading the earlier versions to renaming the new one into place happens under the
release's publish lock, so a version is always deduplicated against every version published before
it, and two builds never claim the same number. A refused version publishes nothing: its full
record (gates, drops, counts) goes to ``failed/`` and a line to ``history.jsonl``.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmaker.embeddings import Embedder, embedding_cache_dir, make_embedder
from benchmaker.errors import ConfigError
from benchmaker.items import MCQ, BenchmarkItem
from benchmaker.releases.changelog import diff_items, render_changelog
from benchmaker.releases.dedup import Deduplicator, Entry
from benchmaker.releases.exports import ExportContext, write_exports
from benchmaker.releases.gates import evaluate_gates, summarize_quality
from benchmaker.releases.models import (
    AgainstSet,
    HistoryEntry,
    ItemSource,
    ReleaseCounts,
    ReleaseItem,
    ReleaseManifest,
    ReleaseReview,
    ReviewedItemRef,
    RunReview,
    SourceRun,
)
from benchmaker.releases.reviewed import errata, load_human_items, review_anchors, review_run
from benchmaker.releases.settings import ReleaseSettings
from benchmaker.releases.store import CHANGELOG, ITEMS, MANIFEST, ReleaseError, ReleaseStore, sha256_file, write_jsonl
from benchmaker.scoring.benchmarks import load_benchmark
from benchmaker.store import RunStore, write_json_atomic

QUALITY_FILES = ("quality.json", "quality.schema.json", "report.html")


@dataclass(frozen=True)
class ReleaseRequest:
    name: str
    run_dirs: Sequence[Path]
    settings: ReleaseSettings = ReleaseSettings()
    outputs_dir: Path = Path("outputs")
    quality_path: Path | None = None
    """A scoring job's ``quality.json`` covering the runs (its report.html beside it is copied too)."""
    kind: Literal["create", "refresh"] = "create"
    trigger: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    """The refresh's seed, for the history."""


@dataclass(frozen=True)
class ReleaseOutcome:
    published: bool
    version: int
    path: Path
    """The version directory, or the failure record."""
    manifest: ReleaseManifest

    @property
    def reasons(self) -> list[str]:
        return self.manifest.failure_reasons


@dataclass(frozen=True)
class _Run:
    source: SourceRun
    items: list[BenchmarkItem]
    """The items as reviewed: rejected ones (and, with only_reviewed, unreviewed ones) left out."""
    language: str | None
    review: RunReview | None = None
    rejected: tuple[ReviewedItemRef, ...] = ()

    @property
    def human(self) -> bool:
        return self.source.method == "human"


def _load_run(run_dir: Path, only_reviewed: bool) -> _Run:
    store = RunStore.open(run_dir)
    manifest = store.manifest()
    config = manifest.get("config") or {}
    models = config.get("models") or {}
    roles = {role: (spec.get("model") if isinstance(spec, dict) else spec) for role, spec in models.items()}
    if isinstance(models.get("panel"), list):
        roles["panel"] = [spec.get("model") if isinstance(spec, dict) else spec for spec in models["panel"]]
    items = store.items()
    source = SourceRun(
        run_id=run_dir.name,
        run_dir=str(run_dir.resolve()),
        config_hash=str(manifest.get("config_hash", "")),
        seed=config.get("seed"),
        status=str(manifest.get("status", "")),
        items=len(items),
        method=str(config.get("method", "")),
        requirement=str((config.get("requirement") or {}).get("description", "")),
        models=roles,
        prompt_versions=manifest.get("prompt_versions") or {},
    )
    reviewed = review_run(source.run_id, run_dir, items, only_reviewed=only_reviewed)
    return _Run(
        source=source,
        items=reviewed.items,
        language=(config.get("requirement") or {}).get("language"),
        review=reviewed.summary,
        rejected=tuple(reviewed.rejected),
    )


def _load_runs(run_dirs: Sequence[Path], settings: ReleaseSettings) -> list[_Run]:
    if not run_dirs and not settings.human:
        raise ConfigError("give at least one run directory (or a file of human-written items)")
    names = [Path(d).resolve().name for d in run_dirs]
    if len(set(names)) != len(names):
        raise ConfigError("a run directory is given twice")
    runs = [_load_run(Path(d), settings.only_reviewed) for d in run_dirs]
    humans = [load_human_items(path) for path in settings.human]
    if len({source.run_id for source, _ in humans}) != len(humans):
        raise ConfigError("two files of human-written items have the same name")
    return runs + [_Run(source=source, items=items, language=None) for source, items in humans]


def _load_against(paths: Sequence[Path]) -> tuple[list[Entry], list[AgainstSet]]:
    entries, sets = [], []
    for path in paths:
        loaded = load_benchmark(Path(path))
        origin = f"against:{Path(path).name}"
        entries += [Entry(id=i.id, question=i.question, choices=i.choices, origin=origin) for i in loaded.items]
        sets.append(AgainstSet(name=loaded.name, path=str(path), items=len(loaded.items), skipped=len(loaded.skipped)))
    return entries, sets


def _read_quality(path: Path | None, run_ids: Sequence[str]) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ReleaseError(f"cannot read the scoring report {path}: {error}") from None
    if not isinstance(report, dict):
        raise ReleaseError(f"{path}: not a scoring report (expected a JSON object)")
    return summarize_quality(report, run_ids)


def choose_anchors(previous: Sequence[ReleaseItem], count: int, *, name: str, version: int) -> list[ReleaseItem]:
    """The previous version's anchors stay anchors (one common set links every version); the rest is a
    seeded draw from its other items. Reproducible for a given release name and version."""
    if count <= 0:
        return []
    kept = [item for item in previous if item.anchor][:count]
    others = [item for item in previous if not item.anchor]
    random.Random(f"anchors:{name}:v{version}").shuffle(others)
    return kept + others[: count - len(kept)]


def _version_refs(store: ReleaseStore, versions: Sequence[int]) -> list[Entry]:
    refs: dict[str, Entry] = {}
    for version in versions:
        for item in store.items(version):
            refs.setdefault(
                item.id, Entry(id=item.id, question=item.question, choices=tuple(item.choices), origin=f"v{version}")
            )
    return list(refs.values())


def release_id(item: BenchmarkItem) -> str:
    """The released item's id: the content id of its question and choices as released (a run's item id
    hashes the choices in the order the generator wrote them, before the answer was placed)."""
    return MCQ(question=item.question, choices=tuple(item.choices), answer_index=item.answer_index).content_id()


def _release_item(item: BenchmarkItem, run: SourceRun, name: str, version: int) -> ReleaseItem:
    review = item.metadata.get("review") if run.method != "human" else None
    return ReleaseItem(
        id=release_id(item),
        question=item.question,
        choices=list(item.choices),
        answer=item.answer,
        answer_index=item.answer_index,
        subject=name,
        first_version=version,
        source=ItemSource(
            run_id=run.run_id,
            item_id=item.id,
            config_hash=run.config_hash,
            origin="human" if run.method == "human" else "generated",
            review=review,
        ),
        metadata=item.metadata,
    )


def _copy_quality(quality_path: Path | None, directory: Path) -> None:
    if quality_path is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for name in QUALITY_FILES:
        source = Path(quality_path).parent / name if name != "quality.json" else Path(quality_path)
        if source.is_file():
            shutil.copyfile(source, directory / name)


def create_release(
    request: ReleaseRequest, *, embedder_factory: Callable[[str], Embedder] | None = None
) -> ReleaseOutcome:
    """Build the next version from ``request.run_dirs`` and publish it if every blocking gate passes.
    ``embedder_factory`` (tests) replaces the embedder, whose vectors are otherwise cached under the outputs."""
    store = ReleaseStore(request.outputs_dir, request.name)
    settings = request.settings
    runs = _load_runs(request.run_dirs, settings)
    run_ids = [run.source.run_id for run in runs if not run.human]
    public, against_sets = _load_against(settings.against)
    quality = _read_quality(request.quality_path, run_ids)
    if embedder_factory is None:
        embedder = make_embedder(settings.dedup.embedder, embedding_cache_dir(request.outputs_dir))
    else:
        embedder = embedder_factory(settings.dedup.embedder)

    with store.publish_lock():
        versions = store.versions()
        previous = versions[-1] if versions else None
        version = (previous or 0) + 1
        dedup = Deduplicator(
            embedder,
            threshold=settings.dedup.semantic_threshold,
            ngram=settings.dedup.ngram,
            versions=_version_refs(store, versions),
            public=public,
        )
        sources = {run.source.run_id: run for run in runs}
        by_key = {(run.source.run_id, release_id(item)): item for run in runs for item in run.items}
        candidates = [
            Entry(id=release_id(item), question=item.question, choices=tuple(item.choices), run_id=run.source.run_id)
            for run in runs
            for item in run.items
        ]
        kept, dropped = dedup.check(candidates)
        new_items = [
            _release_item(by_key[(entry.run_id, entry.id)], sources[entry.run_id].source, request.name, version)
            for entry in kept
        ]
        previous_items = store.items(previous) if previous is not None else []
        anchors: list[ReleaseItem] = []
        wanted = choose_anchors(previous_items, settings.anchors, name=request.name, version=version)
        wanted, anchors_rejected = review_anchors(store.root, wanted)
        if wanted:
            anchor_entries = [
                Entry(id=a.id, question=a.question, choices=tuple(a.choices), origin=f"v{previous}", run_id="")
                for a in wanted
            ]
            kept_anchors, dropped_anchors = dedup.check(anchor_entries, against_versions=False)
            kept_ids = {entry.id for entry in kept_anchors}
            anchors = [a.model_copy(update={"anchor": True}) for a in wanted if a.id in kept_ids]
            dropped += dropped_anchors
        items = new_items + anchors
        gates = evaluate_gates(
            settings.gates,
            new_items=[
                (i.source.run_id, i.source.item_id, i.metadata.get("key_evidence"))
                for i in new_items
                if i.source.origin == "generated"
            ],
            human_items=sum(i.source.origin == "human" for i in new_items),
            run_ids=run_ids,
            quality=quality,
        )
        reasons = [f"{gate.name}: {gate.reason}" for gate in gates if gate.blocks]
        by_reason: dict[str, int] = {}
        for drop in dropped:
            by_reason[drop.reason] = by_reason.get(drop.reason, 0) + 1
        manifest = ReleaseManifest(
            name=request.name,
            version=version,
            status="failed" if reasons else "published",
            kind=request.kind,
            trigger=request.trigger,
            previous_version=previous,
            sources=[run.source for run in runs],
            against=against_sets,
            settings=settings.model_dump(mode="json"),
            embedding_model=embedder.name,
            counts=ReleaseCounts(
                candidates=len(candidates),
                new=len(new_items),
                anchors=len(anchors),
                total=len(items),
                dropped=len(dropped),
                dropped_by_reason=by_reason,
                retired=len(diff_items(previous_items, items).removed),
            ),
            dropped=dropped,
            anchors=[a.id for a in anchors],
            quality=quality,
            gates=gates,
            failure_reasons=reasons,
            review=ReleaseReview(
                only_reviewed=settings.only_reviewed,
                runs=[run.review for run in runs if run.review is not None],
                rejected=[ref for run in runs for ref in run.rejected],
                human_items=sum(len(run.items) for run in runs if run.human),
                anchors_rejected=anchors_rejected,
                errata=errata(store.root, {v: store.items(v) for v in versions}),
            ),
        )
        history = {
            "kind": request.kind,
            "version": version,
            "seed": request.seed,
            "trigger": request.trigger,
            "runs": run_ids,
        }
        if reasons:
            record = store.record_failure(manifest)
            store.append_history(HistoryEntry(event="failed", reasons=reasons, record=str(record), **history))
            return ReleaseOutcome(published=False, version=version, path=record, manifest=manifest)
        first = runs[0]
        with store.build_dir() as build:
            write_jsonl(build / ITEMS, items)
            (build / CHANGELOG).write_text(render_changelog(manifest, items, previous_items), encoding="utf-8")
            _copy_quality(request.quality_path, build / "quality")
            context = ExportContext(
                manifest=manifest,
                items=items,
                final_dir=store.version_dir(version),
                language=first.language,
                requirement=first.source.requirement,
            )
            write_exports(build / "exports", context)
            files = {
                str(path.relative_to(build)): sha256_file(path) for path in sorted(build.rglob("*")) if path.is_file()
            }
            manifest = manifest.model_copy(update={"files": files})
            write_json_atomic(build / MANIFEST, manifest.model_dump(mode="json"))
            target = store.publish(build, version)
        store.append_history(HistoryEntry(event="published", **history))
        return ReleaseOutcome(published=True, version=version, path=target, manifest=manifest)
