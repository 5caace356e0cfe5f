"""Tests that start the real embedded model server (needs the model parts installed).

They share the model assembled in the default cache dir, but keep state file
and log in tmp_path so a user's own detached server is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmaker.local.model_file import ensure_model_file
from benchmaker.local.server import (
    LocalModelServer,
    local_model,
    pid_alive,
    server_status,
    stop_detached,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def model() -> Path:
    return ensure_model_file()


def _models(api_base: str) -> dict:
    with _NO_PROXY.open(f"{api_base}/models", timeout=10) as resp:
        return json.load(resp)


def _wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run_helper(code: str, *args: str) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.local_model
def test_local_model_serves_and_stops(model: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    with local_model(tmp_path, model_path=model) as endpoint:
        print(f"server startup: {time.monotonic() - started:.1f}s")
        assert endpoint.api_base == f"http://127.0.0.1:{endpoint.port}/v1"
        ids = [m["id"] for m in _models(endpoint.api_base)["data"]]
        assert ids == ["local"]
        assert pid_alive(endpoint.pid)
        assert not (tmp_path / "server.json").exists()  # attached servers aren't recorded
    assert not pid_alive(endpoint.pid)


@pytest.mark.local_model
def test_server_dies_with_its_parent_on_sigkill(model: Path, tmp_path: Path) -> None:
    helper = _run_helper(
        """
        import sys, time
        from pathlib import Path
        from benchmaker.local.server import LocalModelServer
        endpoint = LocalModelServer(Path(sys.argv[1]), model_path=Path(sys.argv[2])).start()
        print(endpoint.pid, flush=True)
        time.sleep(600)
        """,
        str(tmp_path),
        str(model),
    )
    assert helper.stdout is not None
    line = helper.stdout.readline()
    assert line.strip().isdigit(), f"helper failed to start the server (exit {helper.poll()})"
    server_pid = int(line)
    try:
        assert pid_alive(server_pid)
        helper.send_signal(signal.SIGKILL)  # no cleanup code can run in the parent
        helper.wait(10)
        assert _wait_until(lambda: not pid_alive(server_pid), 15), "server outlived its parent"
    finally:
        _kill_quietly(server_pid)
        helper.stdout.close()


@pytest.mark.local_model
def test_detached_server_outlives_launcher_and_is_reused(model: Path, tmp_path: Path) -> None:
    launcher = _run_helper(
        """
        import sys
        from pathlib import Path
        from benchmaker.local.server import LocalModelServer
        server = LocalModelServer(Path(sys.argv[1]), model_path=Path(sys.argv[2]))
        print(server.start(detached=True).pid, flush=True)
        """,
        str(tmp_path),
        str(model),
    )
    out, _ = launcher.communicate(timeout=240)
    assert launcher.returncode == 0
    server_pid = int(out.strip())
    try:
        status = server_status(tmp_path)
        assert status is not None and status.pid == server_pid
        state = json.loads((tmp_path / "server.json").read_text())
        assert set(state) == {"pid", "port", "api_base", "started_at"}

        with local_model(tmp_path) as endpoint:  # reuses it instead of starting one
            assert endpoint == status
        assert pid_alive(server_pid)

        assert stop_detached(tmp_path) is True
        assert not pid_alive(server_pid)
        assert not (tmp_path / "server.json").exists()
        assert server_status(tmp_path) is None
        assert stop_detached(tmp_path) is False
    finally:
        _kill_quietly(server_pid)


# Needs no model: runs in the default (fast) test selection too.
def test_status_clears_stale_state_file(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"pid": dead.pid, "port": 1, "api_base": "http://127.0.0.1:1/v1", "started_at": "x"}
    (tmp_path / "server.json").write_text(json.dumps(state))
    assert LocalModelServer(tmp_path).status() is None
    assert not (tmp_path / "server.json").exists()
