"""Offline tests for assembling the embedded model, using tiny stand-in parts."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmaker.local import model_file
from benchmaker.local.errors import LocalModelError
from benchmaker.local.model_file import (
    assemble,
    default_cache_dir,
    ensure_assembled,
    find_parts,
    is_verified,
)

CHUNKS = [b"first-", b"second-", b"third"]
JOINED = b"".join(CHUNKS)
JOINED_SHA = hashlib.sha256(JOINED).hexdigest()


@pytest.fixture()
def parts(tmp_path: Path) -> list[Path]:
    paths = []
    for i, chunk in enumerate(CHUNKS, start=1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


def test_assemble_concatenates_in_order_and_writes_marker(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "models" / "model.gguf"
    assert assemble(parts, dest, len(JOINED), JOINED_SHA) == dest
    assert dest.read_bytes() == JOINED
    assert (tmp_path / "models" / "model.gguf.sha256").read_text().strip() == JOINED_SHA
    assert is_verified(dest, len(JOINED), JOINED_SHA)
    assert _leftovers(dest.parent) == ["model.gguf", "model.gguf.sha256"]


def test_marker_short_circuits_second_call(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "models" / "model.gguf"
    calls: list[int] = []

    def locate() -> Sequence[Path]:
        calls.append(1)
        return parts

    ensure_assembled(dest, locate, len(JOINED), JOINED_SHA)
    for part in parts:  # a second assembly would now fail loudly
        part.unlink()
    assert ensure_assembled(dest, locate, len(JOINED), JOINED_SHA) == dest
    assert len(calls) == 1
    assert dest.read_bytes() == JOINED


def test_missing_marker_triggers_reassembly(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    dest.write_bytes(b"x" * len(JOINED))  # right size, but never verified
    ensure_assembled(dest, lambda: parts, len(JOINED), JOINED_SHA)
    assert dest.read_bytes() == JOINED


def test_concurrent_callers_assemble_once(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    calls: list[int] = []

    def slow_locate() -> Sequence[Path]:
        calls.append(1)
        time.sleep(0.3)  # keep the lock held while the other caller arrives
        return parts

    def worker() -> None:
        ensure_assembled(dest, slow_locate, len(JOINED), JOINED_SHA)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert dest.read_bytes() == JOINED


def test_wrong_hash_raises_and_leaves_nothing(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "models" / "model.gguf"
    wrong = "0" * 64
    with pytest.raises(LocalModelError) as excinfo:
        ensure_assembled(dest, lambda: parts, len(JOINED), wrong)
    message = str(excinfo.value)
    assert wrong in message and JOINED_SHA in message
    assert "\n" not in message
    assert _leftovers(dest.parent) == []


def test_wrong_total_size_fails_before_writing(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    with pytest.raises(LocalModelError, match=f"add up to {len(JOINED)} bytes, expected 999"):
        assemble(parts, dest, 999, JOINED_SHA)
    assert not dest.exists()


def test_stale_temp_file_is_cleaned(parts: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    stale = tmp_path / ".model.gguf.abc123.tmp"  # as left by a killed assembly
    stale.write_bytes(b"partial")
    ensure_assembled(dest, lambda: parts, len(JOINED), JOINED_SHA)
    assert not stale.exists()


def test_missing_parts_message_names_each_package() -> None:
    with pytest.raises(LocalModelError) as excinfo:
        find_parts(count=3, module_prefix="benchmaker_no_such_part")
    message = str(excinfo.value)
    assert message.startswith("embedded model parts missing: ")
    for i in (1, 2, 3):
        assert f"benchmaker-no-such-part{i}" in message
    assert "pip install -e '.[local]'" in message


def test_find_parts_via_import_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake part packages on sys.path: 1 and 3 present, 2 missing.
    for i in (1, 3):
        pkg = tmp_path / f"bm_fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(LocalModelError) as excinfo:
        find_parts(count=3, module_prefix="bm_fake_part")
    assert "bm-fake-part2" in str(excinfo.value)
    assert "bm-fake-part1" not in str(excinfo.value)
    assert "bm_fake_part1" not in sys.modules  # located without importing

    found = find_parts(count=1, module_prefix="bm_fake_part")
    assert found == [tmp_path / "bm_fake_part1" / "data" / "part01.bin"]


def test_default_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHMAKER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "benchmaker"
    monkeypatch.setenv("BENCHMAKER_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("BENCHMAKER_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "benchmaker"


def test_ensure_model_file_uses_cache_dir(parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_file, "find_parts", lambda: parts)
    monkeypatch.setattr(model_file, "MODEL_SIZE_BYTES", len(JOINED))
    monkeypatch.setattr(model_file, "MODEL_SHA256", JOINED_SHA)
    path = model_file.ensure_model_file(tmp_path / "cache")
    assert path == tmp_path / "cache" / "models" / model_file.MODEL_FILENAME
    assert path.read_bytes() == JOINED
