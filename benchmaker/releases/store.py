"""The release store: ``<outputs>/releases/<name>/v<N>/``, written atomically, never overwritten.

A version is built in a hidden directory beside the versions and renamed into place as a whole,
so a reader (or a killed build) never sees half a version. Building and publishing happen under
the release's publish lock: two builds of one release run one after the other, each against the
versions published before it, and never claim the same number. Every attempt, published or not,
is a line of ``history.jsonl``; a refused version leaves its full record under ``failed/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from benchmaker.errors import BenchmakerError, ConfigError
from benchmaker.releases.models import HistoryEntry, ReleaseItem, ReleaseManifest
from benchmaker.releases.settings import parse_version, release_name_problem
from benchmaker.store import JsonlFile, write_json_atomic

ITEMS = "items.jsonl"
MANIFEST = "release.json"
CHANGELOG = "CHANGELOG.md"
HISTORY = "history.jsonl"
_VERSION_DIR = re.compile(r"^v([1-9][0-9]*)$")
_BUILD_PREFIX = ".build-"


class ReleaseError(BenchmakerError):
    """A release or version is missing, corrupt, or cannot be written."""


def releases_root(outputs_dir: Path) -> Path:
    return Path(outputs_dir) / "releases"


def write_jsonl(path: Path, records: list) -> None:  # noqa: ANN001 - pydantic models
    """A whole JSONL file in one go, flushed to disk (used inside a build directory only)."""
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ReleaseStore:
    """Owns ``<outputs>/releases/<name>/``. The name is validated before any path is built from it."""

    def __init__(self, outputs_dir: Path, name: str) -> None:
        if (problem := release_name_problem(name)) is not None:
            raise ConfigError(problem)
        self.name = name
        base = releases_root(outputs_dir).resolve()
        self.root = (base / name).resolve()
        if self.root.parent != base:  # the name rules already ensure it; a symlinked name must not escape either
            raise ConfigError(f"release {name!r} resolves outside {base}")

    # -- reading ---------------------------------------------------------------------------------

    def versions(self) -> list[int]:
        """Published versions, oldest first (a directory counts once its release.json is in place)."""
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            match = _VERSION_DIR.match(child.name)
            if match and (child / MANIFEST).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def latest(self) -> int | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def version_dir(self, version: int) -> Path:
        return self.root / f"v{int(version)}"

    def resolve_version(self, text: str | int) -> int:
        try:
            version = parse_version(text)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if version not in self.versions():
            published = ", ".join(f"v{v}" for v in self.versions()) or "none"
            raise ReleaseError(f"release {self.name!r} has no version v{version} (published: {published})")
        return version

    def manifest(self, version: int) -> ReleaseManifest:
        path = self.version_dir(version) / MANIFEST
        try:
            return ReleaseManifest.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ReleaseError(f"cannot read {path}: {error.strerror}") from None
        except ValidationError as error:
            raise ReleaseError(f"{path}: corrupt release record: {error.errors()[0]['msg']}") from None

    def items(self, version: int) -> list[ReleaseItem]:
        path = self.version_dir(version) / ITEMS
        items = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ReleaseError(f"cannot read {path}: {error.strerror}") from None
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    items.append(ReleaseItem.model_validate_json(line))
                except ValidationError as error:
                    raise ReleaseError(f"{path}:{number}: corrupt item: {error.errors()[0]['msg']}") from None
        return items

    # -- history ---------------------------------------------------------------------------------

    def _history(self) -> JsonlFile:
        self.root.mkdir(parents=True, exist_ok=True)
        return JsonlFile(self.root / HISTORY)

    def append_history(self, entry: HistoryEntry) -> None:
        self._history().append(entry)

    def history(self) -> list[HistoryEntry]:
        if not (self.root / HISTORY).is_file():
            return []
        return self._history().read(HistoryEntry)

    def failed_attempts(self, version: int) -> int:
        """Refreshes of ``version`` that were refused by their gates (each retry must bring new items)."""
        return sum(1 for e in self.history() if e.event == "failed" and e.version == version)

    # -- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def publish_lock(self) -> Iterator[None]:
        """Held while a version is built and published, so versions are made one at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".publish.lock")):
            self._remove_stale_builds()
            yield

    @contextlib.contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """Held for a whole refresh (generation included), so two refreshes never plan the same version."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".refresh.lock")):
            yield

    def _remove_stale_builds(self) -> None:
        """Builds left by a killed process (only ever called under the publish lock, when no build runs)."""
        for child in self.root.iterdir():
            if child.name.startswith(_BUILD_PREFIX) and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)

    @contextlib.contextmanager
    def build_dir(self) -> Iterator[Path]:
        """A hidden directory on the same filesystem as the versions; removed unless it was published."""
        path = self.root / f"{_BUILD_PREFIX}{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)

    def publish(self, build: Path, version: int) -> Path:
        """Move a finished build into place as ``v<version>``; an existing version is never replaced."""
        target = self.version_dir(version)
        if target.exists():
            raise ReleaseError(f"{target} already exists; a published version is never overwritten")
        for path in build.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        os.rename(build, target)
        _fsync_dir(self.root)
        return target

    def record_failure(self, manifest: ReleaseManifest) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.root / "failed" / f"v{manifest.version}_{stamp}.json"
        write_json_atomic(path, manifest.model_dump(mode="json"))
        return path


def manifest_json(manifest: ReleaseManifest) -> str:
    return json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
