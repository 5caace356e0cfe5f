"""What is being reviewed: a run directory or one version of a release, read without ever writing to it.

A run's decisions go to ``<run>/reviews.jsonl`` (appends refused while a generation process holds the
run's writer lock). A published version is never modified, so a release's decisions go to
``<release>/reviews.jsonl`` beside its versions, keyed by the released item's id; the next version
honours them. The quality report's per-item flags come from the newest ``quality.json`` under
``<outputs>/scores/`` that scored this run (or the version's own ``quality/quality.json``).
Everything read here is untrusted: it is validated, and only ever shown escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmaker import paths
from benchmaker.errors import ConfigError, StoreError
from benchmaker.items import BenchmarkItem, Rejection
from benchmaker.paths import UnsafePathError
from benchmaker.releases.models import ReleaseItem
from benchmaker.releases.settings import release_name_problem
from benchmaker.review.liveness import no_writer
from benchmaker.review.log import ReviewLog, read_decisions, states
from benchmaker.review.models import ItemContent, ItemState
from benchmaker.store import BENCHMARK, MANIFEST, REJECTIONS, JsonlFile

RELEASE_MANIFEST, RELEASE_ITEMS = "release.json", "items.jsonl"
MAX_QUALITY_BYTES = 200 * 1024 * 1024


def read_jsonl_readonly(path: Path, model: type, *, missing_ok: bool = True) -> list:
    """The complete lines of a JSONL file another process may be appending to: a last line without its
    newline is skipped, never truncated. A corrupt complete line is an error naming the file and line."""
    if not missing_ok and not Path(path).is_file():
        raise StoreError(f"{path}: no such file")
    return JsonlFile(Path(path), writable=False).read(model)


@dataclass(frozen=True)
class SourceItem:
    position: int
    """1-based place in the file: the page's address for the item."""
    item_id: str
    """The id decisions are recorded under: the run's item id, or the released item's id."""
    content: ItemContent
    metadata: dict[str, Any]
    quality: dict[str, Any] | None = None
    """The quality report's diagnostics of this item (flags, point-biserial...), when a score exists."""
    release: dict[str, Any] = field(default_factory=dict)
    """For a release: anchor, first_version, source."""

    @property
    def key_evidence(self) -> str:
        level = self.metadata.get("key_evidence")
        return level if isinstance(level, str) else "unrecorded"

    @property
    def difficulty(self) -> float | None:
        value = self.metadata.get("difficulty")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def flags(self) -> list[str]:
        flagged = (self.quality or {}).get("flagged")
        return [str(f) for f in flagged] if isinstance(flagged, list) else []


def _quality_items(report: Any, match: Any) -> dict[str, dict[str, Any]] | None:
    """Item diagnostics of the benchmarks in ``report`` whose source ``match`` accepts, by item id."""
    if not isinstance(report, dict) or not isinstance(report.get("benchmarks"), list):
        return None
    found: dict[str, dict[str, Any]] | None = None
    for bench in report["benchmarks"]:
        if isinstance(bench, dict) and match(bench.get("source")) and isinstance(bench.get("items"), list):
            found = found or {}
            found.update({str(i["id"]): i for i in bench["items"] if isinstance(i, dict) and "id" in i})
    return found


def _load_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_QUALITY_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


@dataclass
class ReviewSource:
    kind: Literal["run", "release"]
    directory: Path
    """The run directory, or the release version directory."""
    log: ReviewLog
    title: str
    outputs_dir: Path | None
    quality_path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, quality: Path | None = None) -> ReviewSource:
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"{path}: not a directory (give a run directory or a release version)")
        if (path / MANIFEST).is_file():
            source = cls._run(path)
        elif (path / RELEASE_MANIFEST).is_file() and (path / RELEASE_ITEMS).is_file():
            source = cls._release(path)
        elif release_name_problem(path.name) is None and any(path.glob(f"v*/{RELEASE_MANIFEST}")):
            latest = max(
                (p.parent for p in path.glob(f"v*/{RELEASE_MANIFEST}") if p.parent.name[1:].isdigit()),
                key=lambda p: int(p.name[1:]),
            )
            source = cls._release(latest)
        else:
            raise ConfigError(f"{path}: neither a run directory ({MANIFEST}) nor a release ({RELEASE_MANIFEST})")
        if quality is not None:
            if not Path(quality).is_file():
                raise ConfigError(f"{quality}: no such quality report")
            source.quality_path = Path(quality)
        source.items()  # a corrupt file fails here, before the server starts
        return source

    @classmethod
    def _run(cls, run_dir: Path) -> ReviewSource:
        log = ReviewLog(run_dir, guard=lambda: no_writer(run_dir))
        log.check_writable()
        manifest = _load_json(run_dir / MANIFEST)
        if not isinstance(manifest, dict):
            raise StoreError(f"{run_dir / MANIFEST}: not a run manifest")
        config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        requirement = config.get("requirement") if isinstance(config.get("requirement"), dict) else {}
        outputs = run_dir.parent.parent if run_dir.parent.name == "runs" else None
        return cls(
            kind="run",
            directory=run_dir,
            log=log,
            title=run_dir.name,
            outputs_dir=outputs,
            info={
                "status": str(manifest.get("status", "")),
                "method": str(config.get("method", "")),
                "requirement": str(requirement.get("description", "")),
                "summary": manifest.get("summary") if isinstance(manifest.get("summary"), dict) else {},
            },
        )

    @classmethod
    def _release(cls, version_dir: Path) -> ReviewSource:
        root = version_dir.parent
        if release_name_problem(root.name) is not None or not version_dir.name[1:].isdigit():
            raise ConfigError(f"{version_dir}: not a release version directory (releases/NAME/vN)")
        manifest = _load_json(version_dir / RELEASE_MANIFEST)
        if not isinstance(manifest, dict):
            raise StoreError(f"{version_dir / RELEASE_MANIFEST}: not a release record")
        quality = version_dir / "quality" / "quality.json"
        return cls(
            kind="release",
            directory=version_dir,
            log=ReviewLog(root),
            title=f"{root.name} {version_dir.name}",
            outputs_dir=root.parent.parent if root.parent.name == "releases" else None,
            quality_path=quality if quality.is_file() else None,
            info={"status": str(manifest.get("status", "")), "method": "release", "requirement": ""},
        )

    # -- reading ---------------------------------------------------------------------------------

    def _fresh(self, key: str, path: Path, load: Any) -> Any:
        """``load()`` again only when ``path`` changed (size and mtime), so each page reads what is on disk."""
        try:
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        cached = self._cache.get(key)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load())
            self._cache[key] = cached
        return cached[1]

    def items(self) -> list[SourceItem]:
        if self.kind == "run":
            path = self.directory / BENCHMARK
            return self._fresh("items", path, lambda: self._run_items(path))
        path = self.directory / RELEASE_ITEMS
        return self._fresh("items", path, lambda: self._release_items(path))

    def _run_items(self, path: Path) -> list[SourceItem]:
        quality = self.quality_items()
        return [
            _source_item(n, item, quality.get(item.id))
            for n, item in enumerate(read_jsonl_readonly(path, BenchmarkItem), 1)
        ]

    def _release_items(self, path: Path) -> list[SourceItem]:
        quality = self.quality_items()
        return [
            _source_item(
                n,
                item,
                quality.get(item.source.item_id),
                release={
                    "anchor": item.anchor,
                    "first_version": item.first_version,
                    "source": item.source.model_dump(mode="json"),
                },
            )
            for n, item in enumerate(read_jsonl_readonly(path, ReleaseItem, missing_ok=False), 1)
        ]

    def rejections(self) -> list[Rejection]:
        if self.kind != "run":
            return []
        path = self.directory / REJECTIONS
        return self._fresh("rejections", path, lambda: read_jsonl_readonly(path, Rejection))

    def states(self) -> dict[str, ItemState]:
        originals = {item.item_id: item.content for item in self.items()}
        return states(read_decisions(self.log.path), originals)

    # -- the quality report ----------------------------------------------------------------------

    def _quality_candidates(self) -> list[Path]:
        if self.quality_path is not None:
            return [self.quality_path]
        if self.kind != "run" or self.outputs_dir is None:
            return []
        scores = self.outputs_dir / "scores"
        found = [p for p in scores.glob("*/quality.json") if _inside(scores, p)] if scores.is_dir() else []
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def quality_items(self) -> dict[str, dict[str, Any]]:
        """Per-item diagnostics from the newest quality report covering these items (empty: none)."""
        if self.kind == "release":
            manifest = _load_json(self.directory / RELEASE_MANIFEST)
            sources = manifest.get("sources") if isinstance(manifest, dict) else None
            wanted = {str(s.get("run_id")) for s in sources or [] if isinstance(s, dict)}

            def match(source: Any) -> bool:
                return isinstance(source, str) and Path(source).name in wanted
        else:
            me = self.directory.resolve()

            def match(source: Any) -> bool:
                return isinstance(source, str) and Path(source).resolve() == me

        for path in self._quality_candidates():
            found = _quality_items(_load_json(path), match)
            if found is not None:
                self.info["quality_report"] = str(path)
                return found
        return {}


def _inside(base: Path, path: Path) -> bool:
    try:
        paths.inside(base, path)
    except UnsafePathError:
        return False
    return True


def _source_item(
    position: int, item: BenchmarkItem | ReleaseItem, quality: dict[str, Any] | None, **extra: Any
) -> SourceItem:
    content = ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)
    return SourceItem(
        position=position, item_id=item.id, content=content, metadata=item.metadata, quality=quality, **extra
    )
