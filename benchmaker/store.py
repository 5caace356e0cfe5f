"""The run store: one directory per run, written so that a killed run can always be resumed.

Whole-file writes go through a temp file and ``os.replace``; JSONL appends write one whole line
per record under a lock. A line cut short by a kill is dropped on open, before anything new is
appended after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from benchmaker.config import RunConfig, parse_config
from benchmaker.errors import StoreError
from benchmaker.items import BenchmarkItem, CallRecord, Rejection, utc_now

M = TypeVar("M", bound=BaseModel)

MANIFEST = "manifest.json"
BENCHMARK = "benchmark.jsonl"
REJECTIONS = "rejections.jsonl"
LLM_CALLS = "llm_calls.jsonl"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def drop_partial_last_line(path: Path) -> None:
    """Truncate a JSONL file after its last newline (a kill can leave half a line)."""
    if not path.exists():
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def llm_cache_dir(outputs_dir: Path) -> Path:
    """The LLM response cache, shared by every run and scoring job under one outputs directory."""
    return Path(outputs_dir) / ".cache" / "llm"


def config_hash(config: RunConfig) -> str:
    """What defines the generation; the ``release`` section (dedup, gates) does not change a single item."""
    canonical = json.dumps(config.model_dump(mode="json", exclude={"release"}), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _slug(text: str, words: int = 5) -> str:
    tokens = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(tokens) or "benchmark"


class JsonlFile:
    """An append-only JSONL file of pydantic records, safe for threads and for kills."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        drop_partial_last_line(path)

    def append(self, record: BaseModel) -> None:
        line = (record.model_dump_json() + "\n").encode()
        with self._lock:
            # One write of one whole line on an O_APPEND descriptor, then fsync: a kill leaves
            # either the whole record or a partial last line that the next open drops.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, model: type[M]) -> list[M]:
        if not self.path.exists():
            return []
        records = []
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(model.model_validate_json(line))
                except ValidationError as error:
                    raise StoreError(f"{self.path}:{number}: corrupt record: {error.errors()[0]['msg']}") from None
        return records


class RunStore:
    """Owns every file of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._lock = threading.Lock()
        self._files = {name: JsonlFile(run_dir / name) for name in (BENCHMARK, REJECTIONS, LLM_CALLS)}

    # -- creation and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, config: RunConfig, *, extra_manifest: dict[str, Any] | None = None) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}_{_slug(config.requirement.description)}_{config_hash(config)[:6]}"
        run_dir = Path(config.outputs_dir) / "runs" / name
        if run_dir.exists():
            raise StoreError(f"run directory {run_dir} already exists")
        run_dir.mkdir(parents=True)
        store = cls(run_dir)
        store.write_manifest(
            {
                "run_id": name,
                "created_at": utc_now(),
                "status": "created",
                "config": config.model_dump(mode="json"),
                "config_hash": config_hash(config),
                **(extra_manifest or {}),
                "stages": {},
            }
        )
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        if not (run_dir / MANIFEST).is_file():
            raise StoreError(f"{run_dir} is not a run directory (no {MANIFEST})")
        return cls(run_dir)

    # -- manifest ---------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.run_dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise StoreError(f"cannot read {self.run_dir / MANIFEST}: {error}") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        with self._lock:
            manifest["updated_at"] = utc_now()
            write_json_atomic(self.run_dir / MANIFEST, manifest)

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.manifest()
        manifest.update(fields)
        self.write_manifest(manifest)
        return manifest

    def update_stage(self, stage: str, **fields: Any) -> None:
        manifest = self.manifest()
        manifest.setdefault("stages", {}).setdefault(stage, {}).update(fields)
        self.write_manifest(manifest)

    def config(self) -> RunConfig:
        return parse_config(self.manifest()["config"], source=f"config stored in {self.run_dir}")

    # -- append-only records ----------------------------------------------------------------------

    def append_item(self, item: BenchmarkItem) -> None:
        self._files[BENCHMARK].append(item)

    def append_rejection(self, rejection: Rejection) -> None:
        self._files[REJECTIONS].append(rejection)

    def append_call(self, record: CallRecord) -> None:
        self._files[LLM_CALLS].append(record)

    def items(self) -> list[BenchmarkItem]:
        return self._files[BENCHMARK].read(BenchmarkItem)

    def rejections(self) -> list[Rejection]:
        return self._files[REJECTIONS].read(Rejection)

    def calls(self) -> list[CallRecord]:
        return self._files[LLM_CALLS].read(CallRecord)

    def jsonl(self, name: str) -> JsonlFile:
        """An extra append-only file a method keeps in the run (for example its attempt plans)."""
        with self._lock:
            if name not in self._files:
                self._files[name] = JsonlFile(self.run_dir / name)
            return self._files[name]

    def path(self, name: str) -> Path:
        return self.run_dir / name

    @property
    def cache_dir(self) -> Path:
        return llm_cache_dir(self.run_dir.parent.parent)  # run dirs live in <outputs>/runs/
