import json
import os
import subprocess
import sys

import pytest

from benchmaker.config import parse_config
from benchmaker.errors import StoreError
from benchmaker.items import Rejection
from benchmaker.store import REJECTIONS, RunStore, write_json_atomic
from tests.conftest import REPO


def _config(tmp_path):
    return parse_config(
        {"requirement": {"description": "Unit test store.", "n_items": 2}, "outputs_dir": str(tmp_path / "out")}
    )


def test_create_writes_manifest_without_secrets(tmp_path):
    store = RunStore.create(_config(tmp_path))
    manifest = store.manifest()
    assert manifest["status"] == "created"
    assert manifest["config"]["requirement"]["n_items"] == 2
    assert store.run_dir.parent.name == "runs"
    assert store.config() == _config(tmp_path)


def test_partial_last_line_from_a_kill_is_dropped_on_open(tmp_path):
    store = RunStore.create(_config(tmp_path))
    store.append_rejection(Rejection(attempt=0, stage="s", reason="r"))
    with (store.run_dir / REJECTIONS).open("a") as handle:
        handle.write('{"attempt": 1, "stage": "s", "rea')  # killed mid-write
    store.close()  # the kill releases the lock
    reopened = RunStore.open_for_writing(store.run_dir)
    reopened.append_rejection(Rejection(attempt=2, stage="s", reason="r"))
    assert [r.attempt for r in reopened.rejections()] == [0, 2]


def test_corrupt_complete_line_is_an_error_not_silence(tmp_path):
    store = RunStore.create(_config(tmp_path))
    (store.run_dir / REJECTIONS).write_text('{"attempt": "x"}\n')
    with pytest.raises(StoreError, match="corrupt record"):
        store.rejections()


def test_open_refuses_a_non_run_directory(tmp_path):
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(tmp_path)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


# -- one writer per run (finding 1) ---------------------------------------------------------------


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path):
    store = RunStore.create(_config(tmp_path))
    with pytest.raises(StoreError, match=r"being written by another benchmaker process \(pid \d+\)"):
        RunStore.open_for_writing(store.run_dir)
    with pytest.raises(StoreError, match="being written"):
        RunStore.check_not_busy(store.run_dir)
    store.close()
    second = RunStore.open_for_writing(store.run_dir)  # free once the first writer is gone
    second.append_rejection(Rejection(attempt=0, stage="s", reason="r"))
    second.close()


def test_reading_a_live_run_neither_truncates_it_nor_reads_the_partial_line(tmp_path):
    store = RunStore.create(_config(tmp_path))
    store.append_rejection(Rejection(attempt=0, stage="s", reason="r"))
    path = store.run_dir / REJECTIONS
    with path.open("a") as handle:
        handle.write('{"attempt": 1, "stage": "s", "rea')  # the writer is halfway through a line
    before = path.read_bytes()
    reader = RunStore.open(store.run_dir)
    assert [r.attempt for r in reader.rejections()] == [0]
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match="reading only"):
        reader.append_rejection(Rejection(attempt=2, stage="s", reason="r"))
    with pytest.raises(StoreError, match="reading only"):
        reader.update_manifest(status="hijacked")


def test_a_run_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    store = RunStore.create(_config(tmp_path))
    (store.run_dir / REJECTIONS).write_bytes(b'{"attempt": 0, "stage": "\\xff\xff", "reason": "r"}\n')
    with pytest.raises(StoreError, match=r"rejections.jsonl:1: not UTF-8"):
        store.rejections()
    (store.run_dir / "manifest.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(StoreError, match="manifest.json: not UTF-8"):
        RunStore.open(store.run_dir).config()


# -- short writes (finding 2) ---------------------------------------------------------------------


def test_a_write_cut_short_by_a_full_disk_is_undone_and_reported(tmp_path, monkeypatch):
    import errno

    from benchmaker import store as store_module

    store = RunStore.create(_config(tmp_path))
    store.append_rejection(Rejection(attempt=0, stage="s", reason="r"))
    path = store.run_dir / REJECTIONS
    before = path.read_bytes()
    real_write, calls = os.write, []

    def disk_fills_up(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # what fits
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "write", disk_fills_up)
    with pytest.raises(StoreError, match="No space left on device.*can be resumed"):
        store.append_rejection(Rejection(attempt=1, stage="s", reason="r", detail="x" * 200))
    monkeypatch.undo()
    assert len(calls) == 2 and path.read_bytes() == before  # the half record is gone
    store.append_rejection(Rejection(attempt=2, stage="s", reason="r"))
    assert [r.attempt for r in store.rejections()] == [0, 2]


def test_a_real_file_size_limit_mid_record_leaves_whole_lines(tmp_path):
    # RLIMIT_FSIZE makes the kernel write part of a record and fail the rest (EFBIG), as a full disk does.
    script = f"""
import json, resource
from pathlib import Path
from benchmaker.errors import StoreError
from benchmaker.items import Rejection
from benchmaker.store import JsonlFile
path = Path({str(tmp_path / "r.jsonl")!r})
log = JsonlFile(path)
log.append(Rejection(attempt=0, stage="s", reason="r"))
size = path.stat().st_size
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, hard))
try:
    log.append(Rejection(attempt=1, stage="s", reason="r", detail="x" * 300))
    error = None
except StoreError as caught:
    error = str(caught)
after_failure = path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
log.append(Rejection(attempt=2, stage="s", reason="r"))
print(json.dumps({{"error": error, "size": size, "after_failure": after_failure,
                  "attempts": [r.attempt for r in JsonlFile(path).read(Rejection)]}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["error"] is not None and "File too large" in result["error"]
    assert result["after_failure"] == result["size"]
    assert result["attempts"] == [0, 2]


def test_a_run_directory_that_cannot_be_locked_is_one_clear_error(tmp_path):
    store = RunStore.create(_config(tmp_path))
    store.close()
    (store.run_dir / ".writer.lock").unlink()
    (store.run_dir / ".writer.lock").mkdir()  # as unopenable as a read-only directory would make it
    with pytest.raises(StoreError, match="cannot lock run"):
        RunStore.open_for_writing(store.run_dir)
