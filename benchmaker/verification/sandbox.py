"""Run an untrusted answer program and get its answer back.

Each run is a fresh child process (:mod:`benchmaker.verification.sandbox_child`) in its own session and
temporary directory, with a minimal environment, under rlimits, RestrictedPython and an audit hook; where
the machine allows, also in a network namespace of its own and (when we are root) as user nobody. The
parent enforces wall time by killing the child's whole process group and reads at most a bounded amount
of what it wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from benchmaker.config import SandboxLimits
from benchmaker.errors import BenchmakerError
from benchmaker.verification.sandbox_child import ALLOWED_MODULES
from benchmaker.verification.values import ProgramValue

__all__ = [
    "ALLOWED_MODULES",
    "FULL_ISOLATION",
    "FailureCode",
    "ProgramRun",
    "SandboxLimits",
    "SandboxUnavailable",
    "isolation_layers",
    "require_isolation",
    "run_program",
]

FailureCode = Literal[
    "restricted", "forbidden_import", "exception", "no_answer", "timeout", "cpu_limit", "memory_limit",
    "output_limit", "crashed",
]  # fmt: skip

_CHILD = (sys.executable, "-s", "-P", "-B", "-m", "benchmaker.verification.sandbox_child")
"""Not -I: it would ignore PYTHONHASHSEED, and set iteration order must not change between runs. The
environment is ours entirely (below), so -E has nothing to guard against; -P keeps the cwd off sys.path."""
_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
    # The child runs this very copy of benchmaker, not whichever one the interpreter has installed (an
    # editable install of another checkout would run another sandbox than the one the parent checked).
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}
"""Nothing inherited (no secrets); no installed pydantic plugin runs in the child (and startup is quicker)."""
_NOBODY = 65534
_RESULT_BYTES = 1 << 20
_STDERR_TAIL = 300
_DETAIL = 500


class ProgramRun(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    value: ProgramValue | None = None
    printed: str = ""
    failure: FailureCode | None = None
    detail: str = Field(default="", max_length=_DETAIL)
    seconds: float
    isolation: tuple[str, ...]
    """Layers applied, e.g. ("process", "rlimits", "restricted_python", "audit_hook", "network_namespace")."""

    @model_validator(mode="after")
    def _failure_iff_not_ok(self) -> ProgramRun:
        _check_failure(self.ok, self.failure)
        return self


class _ChildResult(BaseModel):
    """The one JSON line the child writes."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    value: ProgramValue | None
    printed: str
    failure: FailureCode | None
    detail: str = Field(max_length=_DETAIL)

    @model_validator(mode="after")
    def _failure_iff_not_ok(self) -> _ChildResult:
        _check_failure(self.ok, self.failure)
        return self


def _check_failure(ok: bool, failure: FailureCode | None) -> None:
    if ok != (failure is None):
        raise ValueError("failure must be set exactly when ok is False")


class _Launch(NamedTuple):
    prefix: tuple[str, ...]
    """Command prefix that gives the child a network namespace of its own; empty when none works here."""
    drop_privileges: bool
    """Whether the child switches to user nobody (as root, RLIMIT_NPROC is not enforced)."""


_launch_lock = threading.Lock()
_launch: _Launch | None = None


def _works(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, env=_ENV, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _launch_plan() -> _Launch:
    """Decided once per process by probing: `unshare -n` as root keeps the ability to switch to nobody,
    `unshare -rn` (a user namespace) works for anyone where user namespaces are allowed."""
    global _launch
    with _launch_lock:
        if _launch is None:
            root = os.geteuid() == 0
            drop = f"import os; os.setgroups([]); os.setgid({_NOBODY}); os.setuid({_NOBODY})"
            prefixes = [("unshare", "-n"), ("unshare", "-rn")] if shutil.which("unshare") else []
            _launch = _Launch((), False)
            for prefix in [*prefixes, ()]:
                if root and _works([*prefix, sys.executable, "-S", "-c", drop]):
                    _launch = _Launch(prefix, True)
                    break
                if prefix and _works([*prefix, sys.executable, "-S", "-c", "pass"]):
                    _launch = _Launch(prefix, False)
                    break
        return _launch


def _isolation(launch: _Launch) -> tuple[str, ...]:
    # The child fails closed: it runs no program unless rlimits, the user switch it was asked for,
    # RestrictedPython and the audit hook are all in place.
    layers = ["process", "rlimits", "restricted_python", "audit_hook"]
    if launch.prefix:
        layers.append("network_namespace")
    if launch.drop_privileges:
        layers.append("unprivileged_user")
    return tuple(layers)


FULL_ISOLATION = ("process", "rlimits", "restricted_python", "audit_hook", "network_namespace", "unprivileged_user")
_WHY_MISSING = {
    "network_namespace": "no network namespace (`unshare -n` and `unshare -rn` do not work here): an escaped "
    "program could reach the network",
    "unprivileged_user": "no separate user (only root can switch the child to nobody): an escaped program would "
    "run as you and could read your files and the parent's environment, API keys included",
}


class SandboxUnavailable(BenchmakerError):
    """The sandbox cannot put up every isolation layer here, and weaker isolation was not accepted."""


def isolation_layers() -> tuple[str, ...]:
    """The layers every program run gets on this machine."""
    return _isolation(_launch_plan())


def require_isolation(allow_weaker: bool) -> tuple[str, ...]:
    """The layers programs will run under; raises SandboxUnavailable if one is missing and not accepted."""
    layers = isolation_layers()
    missing = [layer for layer in FULL_ISOLATION if layer not in layers]
    if missing and not allow_weaker:
        reasons = "; ".join(_WHY_MISSING.get(layer, layer) for layer in missing)
        raise SandboxUnavailable(
            f"program verification refused: the sandbox lacks {', '.join(missing)} on this machine ({reasons}). "
            "Set benchmaker.program.allow_weaker_isolation: true to run programs with the layers available "
            f"({', '.join(layers)}), or benchmaker.program.mode: off"
        )
    return layers


def _exited(process: subprocess.Popen[bytes]) -> bool:
    # WNOWAIT leaves the exited child unreaped, so its pid (the group id) cannot be reused before killpg.
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped: the host application ignores SIGCHLD
        return True


def _wait_or_kill(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the child; past `timeout` kill it. Then kill its process group either way, so nothing it
    started survives. Returns whether it exited in time."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while not (in_time := _exited(process)) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    with contextlib.suppress(OSError):  # the group may already be empty
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return in_time


def _read(path: Path, limit: int, tail: bool = False) -> str:
    with path.open("rb") as file:
        if tail:
            file.seek(max(0, file.seek(0, os.SEEK_END) - limit))
        return file.read(limit).decode("utf-8", errors="replace")


def _parse(stdout: str) -> _ChildResult | None:
    lines = stdout.strip().splitlines()
    if not lines:
        return None
    try:
        return _ChildResult.model_validate_json(lines[-1])
    except ValidationError:
        return None


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _without_result(returncode: int, in_time: bool, stderr: str, limits: SandboxLimits) -> tuple[FailureCode, str]:
    if not in_time:
        return "timeout", f"no result within {limits.wall_seconds:g} s of wall time"
    if returncode == -signal.SIGXCPU:
        return "cpu_limit", f"over {limits.cpu_seconds:g} s of CPU time"
    if "MemoryError" in stderr:
        return "memory_limit", f"out of memory (limit {limits.memory_mb} MB)"
    how = f"killed by {_signal_name(returncode)}" if returncode < 0 else f"exit code {returncode}"
    return "crashed", f"the sandbox child gave no result ({how}); stderr: {stderr.strip()[-_STDERR_TAIL:]}"


def _start(command: list[str], folder: Path, stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    with (
        (folder / "request.json").open("rb") as stdin,
        stdout.open("wb") as out,
        stderr.open("wb") as err,
    ):
        return subprocess.Popen(
            command, stdin=stdin, stdout=out, stderr=err, cwd=folder, env=_ENV, start_new_session=True
        )


def run_program(source: str, limits: SandboxLimits = SandboxLimits()) -> ProgramRun:  # noqa: B008 - frozen
    """Run `source` in the sandbox. The program leaves its result in `answer` (or prints it last).

    Never raises for anything the program does; safe to call from several threads at once."""
    launch = _launch_plan()
    isolation = _isolation(launch)
    started = time.monotonic()
    request = {
        "source": source,
        "cpu_seconds": limits.cpu_seconds,
        "memory_mb": limits.memory_mb,
        "max_output_chars": limits.max_output_chars,
        "drop_to_uid": _NOBODY if launch.drop_privileges else None,
    }
    with tempfile.TemporaryDirectory(prefix="benchmaker-sandbox-", ignore_cleanup_errors=True) as directory:
        folder = Path(directory)
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        stdout, stderr = folder / "stdout", folder / "stderr"
        try:
            process = _start([*launch.prefix, *_CHILD], folder, stdout, stderr)
        except OSError as error:
            return ProgramRun(
                ok=False, failure="crashed", detail=f"could not start the sandbox: {error}"[:_DETAIL],
                seconds=time.monotonic() - started, isolation=isolation,
            )  # fmt: skip
        in_time = _wait_or_kill(process, limits.wall_seconds)
        result = _parse(_read(stdout, _RESULT_BYTES))
        stderr_tail = "" if result is not None else _read(stderr, 4 * _STDERR_TAIL, tail=True)
    seconds = time.monotonic() - started
    if result is None:
        failure, detail = _without_result(process.returncode, in_time, stderr_tail, limits)
        return ProgramRun(ok=False, failure=failure, detail=detail[:_DETAIL], seconds=seconds, isolation=isolation)
    return ProgramRun(
        ok=result.ok, value=result.value, printed=result.printed[: limits.max_output_chars],
        failure=result.failure, detail=result.detail, seconds=seconds, isolation=isolation,
    )  # fmt: skip
