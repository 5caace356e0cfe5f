"""The run store: one directory per run, written so that a killed run can always be resumed.

Whole-file writes go through a temp file and ``os.replace``; JSONL appends write one whole line
per record under a lock, and a write that cannot finish (a full disk, a file-size limit) is undone
before the error is raised, so no record is ever glued to the next. One process writes a run at a
time (:mod:`benchmaker.dirlock`); only that writer drops a line cut short by a kill, on open, before
anything new is appended after it. Readers (scoring, comparisons) never change a run: they skip a
partial last line instead.
"""

from __future__ import annotations

import contextlib
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
from benchmaker.dirlock import DirectoryLock
from benchmaker.errors import StoreError
from benchmaker.items import BenchmarkItem, CallRecord, Rejection, utc_now
from benchmaker.trust import sign

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
    return stored_config_hash(config.model_dump(mode="json"))


def stored_config_hash(stored: dict) -> str:
    """``config_hash`` of a config as a run stored it. A resume checks this one, not the hash of the config
    re-parsed: a field added to the config later (with its default) would change that, and a run made by an
    earlier version could never be resumed."""
    canonical = json.dumps({key: value for key, value in stored.items() if key != "release"}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _slug(text: str, words: int = 5) -> str:
    tokens = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(tokens) or "benchmark"


class JsonlFile:
    """An append-only JSONL file of pydantic records, safe for threads and for kills.

    ``writable=False`` opens it for reading only: nothing is truncated, and a partial last line (a
    record its writer is appending right now, or one a kill cut short) is skipped.
    """

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self._lock = threading.Lock()
        if writable:
            drop_partial_last_line(path)

    def append(self, record: BaseModel) -> None:
        if not self.writable:
            raise StoreError(f"{self.path} is open for reading only")
        line = (record.model_dump_json() + "\n").encode()
        with self._lock:
            # One whole line on an O_APPEND descriptor, then fsync: a kill leaves either the whole
            # record or a partial last line that the next writer's open drops.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _write_whole(fd, line, self.path)
            finally:
                os.close(fd)

    def read(self, model: type[M]) -> list[M]:
        if not self.path.exists():
            return []
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror or error}") from None
        lines = data.split(b"\n")
        lines.pop()  # what follows the last newline: empty, or a record still being written
        records = []
        for number, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise StoreError(f"{self.path}:{number}: not UTF-8 text (byte {error.start + 1})") from None
            if not line.strip():
                continue
            try:
                records.append(model.model_validate_json(line))
            except ValidationError as error:
                raise StoreError(f"{self.path}:{number}: corrupt record: {error.errors()[0]['msg']}") from None
        return records


def _write_whole(fd: int, data: bytes, path: Path) -> None:
    """Write all of ``data`` and fsync, or leave the file as it was and raise StoreError.

    ``os.write`` may write less than asked: on a full disk, or at RLIMIT_FSIZE, it writes what fits
    and the next write fails. What was written of the record is cut off again, so the file still
    ends with a whole line and the run can be resumed once there is room.
    """
    start = os.fstat(fd).st_size
    written = 0
    try:
        while written < len(data):
            count = os.write(fd, data[written:])
            if count <= 0:
                raise OSError(28, "no progress writing (disk full?)")
            written += count
        os.fsync(fd)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        reason = error.strerror or str(error)
        raise StoreError(
            f"cannot append to {path}: {reason}; nothing half-written was kept, the run can be resumed "
            "once there is room"
        ) from None


class RunStore:
    """Owns every file of one run directory.

    A store from :meth:`create` or :meth:`open_for_writing` holds the run's writer lock until
    :meth:`close` (or until its process dies); one from :meth:`open` only reads.
    """

    def __init__(self, run_dir: Path, *, lock: DirectoryLock | None = None) -> None:
        self.run_dir = run_dir
        self._writer_lock = lock
        self._lock = threading.Lock()
        writable = lock is not None
        self._files = {
            name: JsonlFile(run_dir / name, writable=writable) for name in (BENCHMARK, REJECTIONS, LLM_CALLS)
        }

    @property
    def writable(self) -> bool:
        return self._writer_lock is not None and self._writer_lock.held

    # -- creation and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, config: RunConfig, *, extra_manifest: dict[str, Any] | None = None) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}_{_slug(config.requirement.description)}_{config_hash(config)[:6]}"
        run_dir = Path(config.outputs_dir) / "runs" / name
        try:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir()
        except FileExistsError:
            raise StoreError(f"run directory {run_dir} already exists") from None
        except OSError as error:
            raise StoreError(f"cannot create run directory {run_dir}: {error.strerror or error}") from None
        store = cls(run_dir, lock=DirectoryLock(run_dir, "run").acquire())
        stored = config.model_dump(mode="json")
        store.write_manifest(
            {
                "run_id": name,
                "created_at": utc_now(),
                "status": "created",
                "config": stored,
                "config_hash": config_hash(config),
                # Who may spend credentials on this run's endpoints: see benchmaker.trust.
                "signature": sign(name, stored),
                **(extra_manifest or {}),
                "stages": {},
            }
        )
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """For reading: never changes the run, even while its writer is appending to it."""
        if not (run_dir / MANIFEST).is_file():
            raise StoreError(f"{run_dir} is not a run directory (no {MANIFEST})")
        return cls(run_dir)

    @classmethod
    def open_for_writing(cls, run_dir: Path) -> RunStore:
        """For resuming: takes the run's writer lock (refused while another process writes the run),
        then drops any line a kill cut short."""
        if not (run_dir / MANIFEST).is_file():
            raise StoreError(f"{run_dir} is not a run directory (no {MANIFEST})")
        return cls(run_dir, lock=DirectoryLock(run_dir, "run").acquire())

    @staticmethod
    def check_not_busy(run_dir: Path) -> None:
        """Raise StoreError if a process is writing ``run_dir`` right now."""
        DirectoryLock(run_dir, "run").check_free()

    def close(self) -> None:
        """Release the writer lock (a no-op for a reading store)."""
        if self._writer_lock is not None:
            self._writer_lock.release()

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.run_dir} is open for reading only")

    # -- manifest ---------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        path = self.run_dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise StoreError(f"{path}: not UTF-8 text (byte {error.start + 1})") from None
        except json.JSONDecodeError as error:
            raise StoreError(f"{path}: invalid JSON ({error.msg} at line {error.lineno})") from None
        except (ValueError, RecursionError) as error:  # an integer of >4300 digits, nesting too deep
            raise StoreError(f"{path}: unreadable JSON ({str(error)[:100]})") from None
        if not isinstance(data, dict):
            raise StoreError(f"{path}: expected a JSON object")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self._require_writable()
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
        return parse_config(self.manifest().get("config"), source=f"config stored in {self.run_dir}")

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
                self._files[name] = JsonlFile(self.run_dir / name, writable=self.writable)
            return self._files[name]

    def path(self, name: str) -> Path:
        return self.run_dir / name

    @property
    def cache_dir(self) -> Path:
        return llm_cache_dir(self.run_dir.parent.parent)  # run dirs live in <outputs>/runs/
