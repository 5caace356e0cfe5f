"""Run the embedded model behind llama-cpp-python's OpenAI-compatible server.

Two modes:

* attached (default): the server lives only as long as this process.  On Linux
  the kernel kills it when we die, even on SIGKILL, so no orphan keeps 1+ GB of
  RAM and the CPUs busy.
* detached (``benchmaker local start``): the server gets its own session and is
  recorded in ``<cache_dir>/server.json`` so later commands can reuse or stop it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.util
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from benchmaker.local.errors import LocalModelError
from benchmaker.local.model_file import (
    INSTALL_HINT,
    MODEL_NAME,
    MODEL_SHA256,
    MODEL_SIZE_BYTES,
    default_cache_dir,
    ensure_model_file,
    file_lock,
    find_parts,
    is_verified,
    model_path,
    write_atomically,
)

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
N_CTX = 4096
STOP_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.25
_HEALTH_TIMEOUT_SECONDS = 2.0
_LOG_TAIL_LINES = 8
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# SIGKILL, not SIGTERM: uvicorn's graceful shutdown waits for the running
# completion (measured: minutes at n_ctx 4096), and the server has no state to save.
_PARENT_DEATH_SIGNAL = signal.SIGKILL

SERVER_MODULE = "llama_cpp.server"
SERVER_MODULE_ENV = "BENCHMAKER_LOCAL_SERVER_MODULE"
"""Names a stand-in for llama_cpp.server (same flags, same endpoints): the lifecycle tests use a tiny fake
so that starting, reusing, busy detection and kill-with-parent are tested without loading the model."""

# Bypass http_proxy/HTTPS_PROXY: a proxy in the environment must not be asked
# for 127.0.0.1 (no_proxy often doesn't list it).
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class LocalEndpoint:
    """Where a running local server answers OpenAI-style requests."""

    api_base: str
    port: int
    pid: int


def _api_base(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def probe(api_base: str, timeout: float = _HEALTH_TIMEOUT_SECONDS) -> str:
    """Classify a server as "ok", "busy" or "down" via GET {api_base}/models.

    llama_cpp.server answers /v1/models under the same lock as completions, so
    while it generates, the request connects but gets no reply: that's "busy".
    """
    try:
        with _NO_PROXY_OPENER.open(f"{api_base}/models", timeout=timeout) as resp:
            body = json.load(resp)
    except urllib.error.URLError:  # refused, connect timeout, HTTP error status
        return "down"
    except TimeoutError:  # connected, but the reply is stuck behind a request
        return "busy"
    except (OSError, ValueError):  # reset connection, bad JSON
        return "down"
    ok = isinstance(body, dict) and isinstance(body.get("data"), list)
    return "ok" if ok else "down"


def is_healthy(api_base: str, timeout: float = _HEALTH_TIMEOUT_SECONDS) -> bool:
    """True if GET {api_base}/models answers 200 with a model list."""
    return probe(api_base, timeout) == "ok"


def pid_alive(pid: int) -> bool:
    """True if pid runs; a zombie counts as dead (containers may never reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): kill(0) is all we can know
    # The state letter follows the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _server_module() -> str:
    return os.environ.get(SERVER_MODULE_ENV) or SERVER_MODULE


def _looks_like_our_server(pid: int) -> bool:
    """Guard against pid reuse before signalling a pid read from the state file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid_alive(pid)  # no procfs: trust the pid
    return _server_module().encode() in cmdline


def _free_port() -> int:
    # The port could be taken between close() and the server's bind; the window
    # is tiny and a failure surfaces as an early exit with the log tail.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _default_threads() -> int:
    """$BENCHMAKER_LOCAL_THREADS, else every CPU we may use.

    The server is the only heavy work of a run. Measured on 2 idle vCPUs: 2 threads gave
    12.4-12.8 tok/s, 1 thread 8.5. Under contention from other processes the order flips
    (llama.cpp's threads spin-wait for each other), so busy machines may want 1.
    """
    explicit = os.environ.get("BENCHMAKER_LOCAL_THREADS", "").strip()
    if explicit:
        try:
            return max(1, int(explicit))
        except ValueError:
            raise LocalModelError(f"BENCHMAKER_LOCAL_THREADS must be a whole number, got {explicit!r}") from None
    try:
        available = len(os.sched_getaffinity(0))  # respects taskset/cpuset limits
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, available)


def _death_signal_preexec() -> Callable[[], None] | None:
    """preexec_fn asking Linux to kill the child when its parent dies.

    Note: the signal fires when the *thread* that spawned the child exits, so
    start attached servers from a long-lived thread (normally the main one).
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)  # loaded before fork, not in the child
    except OSError:
        logger.warning("cannot load libc; the local server may outlive this process")
        return None
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, _PARENT_DEATH_SIGNAL, 0, 0, 0)
        # The parent may have died before prctl ran; then no signal would come.
        if os.getppid() != parent:
            os.kill(os.getpid(), _PARENT_DEATH_SIGNAL)

    return preexec


def _check_installed() -> None:
    if _server_module() != SERVER_MODULE:
        return  # a stand-in server needs none of llama.cpp's modules
    for module in ("llama_cpp", "uvicorn", "fastapi"):
        if importlib.util.find_spec(module) is None:
            raise LocalModelError(f"llama-cpp-python server is not installed (no module {module}); {INSTALL_HINT}")


def check_available() -> None:
    """Raise LocalModelError unless the server and the model (assembled, or its parts) are installed.

    Cheap: no assembly, no hashing; ``benchmaker validate`` calls it.
    """
    _check_installed()
    if not is_verified(model_path(), MODEL_SIZE_BYTES, MODEL_SHA256):
        find_parts()


def _log_tail(log_path: Path, start: int) -> str:
    """Last lines this server wrote to the log, for error messages."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no server log)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-_LOG_TAIL_LINES:]) or "(server log is empty)"


def _open_log(log_path: Path) -> tuple[IO[bytes], int]:
    """Open the shared log for appending (rotating it when large); return handle and offset."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    handle = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed by us
    return handle, handle.tell()


def _terminate(pid: int, wait: Callable[[float], bool]) -> None:
    """SIGTERM, give it STOP_GRACE_SECONDS, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if wait(STOP_GRACE_SECONDS):
            return
        logger.warning("local server %d ignored SIGTERM; killing it", pid)
        os.kill(pid, signal.SIGKILL)
        wait(STOP_GRACE_SECONDS)


def _wait_pid_gone(pid: int) -> Callable[[float], bool]:
    def wait(timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    return wait


def _wait_popen(proc: subprocess.Popen[bytes]) -> Callable[[float], bool]:
    def wait(timeout: float) -> bool:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    return wait


class LocalModelServer:
    """Starts, finds and stops one llama-cpp-python server for the embedded model."""

    def __init__(self, cache_dir: Path | None = None, *, model_path: Path | None = None) -> None:
        # model_path lets tests share one assembled model while keeping their
        # state file and log in a private cache_dir.
        self.cache_dir = cache_dir or default_cache_dir()
        self._model_path = model_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._endpoint: LocalEndpoint | None = None

    @property
    def state_path(self) -> Path:
        return self.cache_dir / "server.json"

    @property
    def log_path(self) -> Path:
        return self.cache_dir / "server.log"

    @property
    def endpoint(self) -> LocalEndpoint | None:
        return self._endpoint

    def start(
        self,
        *,
        detached: bool = False,
        n_threads: int | None = None,
        startup_timeout: float = 180,
    ) -> LocalEndpoint:
        """Spawn the server and return once /v1/models answers."""
        if self._proc is not None and self._proc.poll() is None:
            raise LocalModelError("this LocalModelServer is already running a server")
        _check_installed()
        model = self._model_path or ensure_model_file(self.cache_dir)
        port = _free_port()
        log, log_start = _open_log(self.log_path)
        started = time.monotonic()
        try:
            proc = self._spawn(model, port, n_threads or _default_threads(), detached, log)
        finally:
            log.close()  # the child keeps its own copy of the descriptor
        self._proc = proc
        endpoint = LocalEndpoint(api_base=_api_base(port), port=port, pid=proc.pid)
        try:
            self._wait_healthy(endpoint, startup_timeout, log_start)
            if detached:
                self._write_state(endpoint)
        except BaseException:  # includes Ctrl-C during the wait
            self._stop_proc()
            raise
        self._endpoint = endpoint
        logger.info(
            "local model server up at %s (pid %d) in %.1fs",
            endpoint.api_base,
            endpoint.pid,
            time.monotonic() - started,
        )
        return endpoint

    def _spawn(self, model: Path, port: int, n_threads: int, detached: bool, log: IO[bytes]) -> subprocess.Popen[bytes]:
        flags = {
            "--model": str(model),
            "--model_alias": MODEL_NAME,
            "--host": HOST,
            "--port": str(port),
            "--n_threads": str(n_threads),
            "--n_ctx": str(N_CTX),
            # One request at a time: don't let a new request abort a running one.
            "--interrupt_requests": "False",
        }
        cmd = [sys.executable, "-m", _server_module(), *itertools.chain.from_iterable(flags.items())]
        logger.debug("starting local server: %s", " ".join(cmd))
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            # Detached: own session so Ctrl-C in the terminal doesn't reach it.
            start_new_session=detached,
            preexec_fn=None if detached else _death_signal_preexec(),
        )

    def _wait_healthy(self, endpoint: LocalEndpoint, timeout: float, log_start: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise LocalModelError(
                    f"local model server exited with code {code} during startup: "
                    f"{_log_tail(self.log_path, log_start)} (full log: {self.log_path})"
                )
            if is_healthy(endpoint.api_base):
                return
            if time.monotonic() >= deadline:
                raise LocalModelError(
                    f"local model server not ready after {timeout:g}s: "
                    f"{_log_tail(self.log_path, log_start)} (full log: {self.log_path})"
                )
            time.sleep(_POLL_SECONDS)

    def _write_state(self, endpoint: LocalEndpoint) -> None:
        state = asdict(endpoint) | {"started_at": datetime.now(UTC).isoformat()}
        write_atomically(self.state_path, json.dumps(state, indent=2) + "\n")

    def _read_state(self) -> LocalEndpoint | None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            return LocalEndpoint(api_base=str(state["api_base"]), port=int(state["port"]), pid=int(state["pid"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable state file %s", self.state_path)
            return None

    def _remove_state_if(self, pid: int) -> None:
        """Remove the state file only if it still describes pid (it may be newer)."""
        recorded = self._read_state()
        if recorded is None or recorded.pid == pid:
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()

    def _stop_proc(self) -> None:
        proc, self._proc, self._endpoint = self._proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            _terminate(proc.pid, _wait_popen(proc))
        self._remove_state_if(proc.pid)

    def stop(self) -> bool:
        """Stop the server this object started, else the one in the state file.

        Returns True if a running server was stopped.
        """
        if self._proc is not None:
            running = self._proc.poll() is None
            self._stop_proc()
            return running
        recorded = self._read_state()
        if recorded is None:
            return False
        running = pid_alive(recorded.pid) and _looks_like_our_server(recorded.pid)
        if running:
            _terminate(recorded.pid, _wait_pid_gone(recorded.pid))
        self._remove_state_if(recorded.pid)
        return running

    def status(self) -> LocalEndpoint | None:
        """The recorded detached server if it is alive and answering (or busy), else None."""
        recorded = self._read_state()
        if recorded is None:
            return None
        if not (pid_alive(recorded.pid) and _looks_like_our_server(recorded.pid)):
            logger.info("removing stale state file %s (pid %d is gone)", self.state_path, recorded.pid)
            self._remove_state_if(recorded.pid)
            return None
        # Busy serving a request counts as up.  Alive but down (still loading, or
        # wedged): keep the state file so `benchmaker local stop` can find it.
        return recorded if probe(recorded.api_base) != "down" else None


@contextlib.contextmanager
def local_model(
    cache_dir: Path | None = None,
    *,
    model_path: Path | None = None,
    n_threads: int | None = None,
    startup_timeout: float = 180,
) -> Iterator[LocalEndpoint]:
    """Yield a running endpoint: the detached server if healthy, else a private one.

    A private server is stopped on exit, including on errors and Ctrl-C.
    """
    server = LocalModelServer(cache_dir, model_path=model_path)
    existing = server.status()
    if existing is not None:
        logger.info("using the running local server at %s", existing.api_base)
        yield existing
        return
    endpoint = server.start(n_threads=n_threads, startup_timeout=startup_timeout)
    try:
        yield endpoint
    finally:
        server.stop()


def start_detached(
    cache_dir: Path | None = None,
    *,
    n_threads: int | None = None,
    startup_timeout: float = 180,
) -> LocalEndpoint:
    """Start a background server that outlives this process (reuses a healthy one)."""
    server = LocalModelServer(cache_dir)
    server.cache_dir.mkdir(parents=True, exist_ok=True)
    # Serialise concurrent `benchmaker local start`s so only one server is spawned.
    with file_lock(server.cache_dir / "server.lock"):
        existing = server.status()
        if existing is not None:
            return existing
        if server.stop():  # recorded but not answering: replace it rather than leak it
            logger.warning("stopped an unresponsive local server before starting a new one")
        return server.start(detached=True, n_threads=n_threads, startup_timeout=startup_timeout)


def stop_detached(cache_dir: Path | None = None) -> bool:
    """Stop the background server; False if none was running."""
    return LocalModelServer(cache_dir).stop()


def server_status(cache_dir: Path | None = None) -> LocalEndpoint | None:
    """The background server's endpoint if it is running and healthy."""
    return LocalModelServer(cache_dir).status()
