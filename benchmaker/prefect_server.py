"""A Prefect server in the background: ``prefect server start`` on loopback, found again by a state file.

Schedules need a server that outlives one command: ``benchmaker server start`` runs one (its UI
shows deployments and runs), records its pid and address in ``<cache>/prefect-server.json``, and
``benchmaker schedule`` and ``benchmaker server stop|status`` find it there. The database is
Prefect's own: SQLite under ``PREFECT_HOME`` unless ``PREFECT_API_DATABASE_CONNECTION_URL`` names
another (e.g. Postgres); the server inherits the environment. This module runs the ``prefect`` CLI
as a separate process and never imports Prefect itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmaker.errors import BenchmakerError
from benchmaker.local.model_file import default_cache_dir, file_lock, write_atomically
from benchmaker.local.server import pid_alive

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STOP_GRACE_SECONDS = 10.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PrefectServerError(BenchmakerError):
    """The Prefect server could not be started, or is not where it was recorded."""


@dataclass(frozen=True)
class PrefectServer:
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """True when ``GET <api_url>/health`` answers ``true``."""
    try:
        with _NO_PROXY.open(f"{api_url}/health", timeout=timeout) as response:
            return json.load(response) is True
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _looks_like_prefect_server(pid: int) -> bool:
    """Guard against pid reuse before signalling a pid read from the state file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid_alive(pid)
    return b"prefect" in cmdline and b"server" in cmdline


def _log_tail(path: Path, start: int, lines: int = 8) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no server log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(the server log is empty)"


def _stop_group(pid: int) -> None:
    """SIGTERM to the server's process group, then SIGKILL after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)


class PrefectServerManager:
    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else default_cache_dir()

    @property
    def state_path(self) -> Path:
        return self.state_dir / "prefect-server.json"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "prefect-server.log"

    def _read_state(self) -> PrefectServer | None:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return PrefectServer(host=str(data["host"]), port=int(data["port"]), pid=int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def status(self) -> PrefectServer | None:
        """The recorded server when its process is alive and its API answers."""
        recorded = self._read_state()
        if recorded is None or not (pid_alive(recorded.pid) and _looks_like_prefect_server(recorded.pid)):
            return None
        return recorded if is_healthy(recorded.api_url) else None

    def start(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = 180) -> PrefectServer:
        """Start a detached server (or return the recorded one if it answers)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.state_dir / "prefect-server.lock"):
            running = self.status()
            if running is not None:
                return running
            self.stop()  # a recorded server that does not answer is replaced, not leaked
            env = {**os.environ}
            env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
            with self.log_path.open("ab") as log:
                start = log.tell()
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own group: Ctrl-C in the terminal does not reach it
                )
            server = PrefectServer(host=host, port=port, pid=process.pid)
            deadline = time.monotonic() + timeout
            while not is_healthy(server.api_url):
                code = process.poll()
                if code is not None or time.monotonic() > deadline:
                    if code is None:
                        _stop_group(process.pid)
                    why = f"exited with code {code}" if code is not None else f"not ready after {timeout:g}s"
                    raise PrefectServerError(
                        f"Prefect server on {server.url} {why}: {_log_tail(self.log_path, start)} "
                        f"(full log: {self.log_path})"
                    )
                time.sleep(0.25)
            state = asdict(server) | {"started_at": datetime.now(UTC).isoformat(), "api_url": server.api_url}
            write_atomically(self.state_path, json.dumps(state, indent=2) + "\n")
            return server

    def stop(self) -> bool:
        """Stop the recorded server and its process group; True if one was running."""
        recorded = self._read_state()
        if recorded is None:
            return False
        running = pid_alive(recorded.pid) and _looks_like_prefect_server(recorded.pid)
        if running:
            _stop_group(recorded.pid)
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()
        return running


def resolve_api_url(manager: PrefectServerManager | None = None) -> str | None:
    """``PREFECT_API_URL`` if set, else the server ``benchmaker server start`` recorded (when it answers)."""
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        return explicit
    server = (manager or PrefectServerManager()).status()
    return server.api_url if server is not None else None
