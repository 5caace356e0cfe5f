"""The local model server's lifecycle: start, reuse, busy detection, stop, and death with its parent.

The server process is a stand-in (``tests/fake_llama_server.py``: llama_cpp.server's flags and endpoints,
one request at a time, no weights), so these run offline in seconds. The real llama.cpp server is
started by the end-to-end test in ``test_local_e2e.py``. State file and log live in tmp_path, so a
user's own detached server is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmaker.local.errors import LocalModelError
from benchmaker.local.model_file import MODEL_FILENAME, MODEL_NAME, MODEL_SHA256, MODEL_SIZE_BYTES
from benchmaker.local.server import (
    SERVER_MODULE_ENV,
    LocalModelServer,
    local_model,
    pid_alive,
    probe,
    server_status,
    stop_detached,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(autouse=True)
def _fake_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVER_MODULE_ENV, "tests.fake_llama_server")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file that passes the cheap verification (size and hash marker) without 1 GB on disk: sparse."""
    path = tmp_path_factory.mktemp("model") / MODEL_FILENAME
    with path.open("wb") as handle:
        handle.write(b"GGUF")
        handle.truncate(MODEL_SIZE_BYTES)
    path.with_name(path.name + ".sha256").write_text(MODEL_SHA256 + "\n")
    return path


def _model_ids(api_base: str) -> list[str]:
    with _NO_PROXY.open(f"{api_base}/models", timeout=10) as resp:
        return [str(entry["id"]) for entry in json.load(resp)["data"]]


def _wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _generate_in_background(api_base: str, max_tokens: int) -> threading.Thread:
    """Keep the server busy; it serves one request at a time."""
    body = {
        "model": "local",
        "messages": [{"role": "user", "content": "Write a long, commented merge sort in Python."}],
        "max_tokens": max_tokens,
    }
    request = urllib.request.Request(
        f"{api_base}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )

    def run() -> None:
        try:
            with _NO_PROXY.open(request, timeout=600) as resp:
                resp.read()
        except OSError:
            pass  # the server may be killed mid-request; that's the point

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(1.5)  # let the request reach the model
    return thread


def _run_helper(code: str, *args: str) -> subprocess.Popen[str]:
    python_path = [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, python_path))}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_local_model_serves_and_stops(model: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    with local_model(tmp_path, model_path=model) as endpoint:
        print(f"server startup: {time.monotonic() - started:.1f}s")
        assert endpoint.api_base == f"http://127.0.0.1:{endpoint.port}/v1"
        assert _model_ids(endpoint.api_base) == [MODEL_NAME]
        assert pid_alive(endpoint.pid)
        assert not (tmp_path / "server.json").exists()  # attached servers aren't recorded
    assert not pid_alive(endpoint.pid)


def test_server_dies_with_its_parent_on_sigkill(model: Path, tmp_path: Path) -> None:
    helper = _run_helper(
        """
        import sys, time
        from pathlib import Path
        from benchmaker.local.server import LocalModelServer
        endpoint = LocalModelServer(Path(sys.argv[1]), model_path=Path(sys.argv[2])).start()
        print(endpoint.pid, endpoint.api_base, flush=True)
        time.sleep(600)
        """,
        str(tmp_path),
        str(model),
    )
    assert helper.stdout is not None
    words = helper.stdout.readline().split()
    assert len(words) == 2, f"helper failed to start the server (exit {helper.poll()})"
    server_pid, api_base = int(words[0]), words[1]
    try:
        assert pid_alive(server_pid)
        # Busy, so a graceful shutdown would wait for the whole generation.
        _generate_in_background(api_base, max_tokens=2000)
        helper.send_signal(signal.SIGKILL)  # no cleanup code can run in the parent
        helper.wait(10)
        assert _wait_until(lambda: not pid_alive(server_pid), 15), "server outlived its parent"
    finally:
        _kill_quietly(server_pid)
        helper.stdout.close()


def _link_model_into(cache_dir: Path, model: Path) -> None:
    """Make cache_dir look like it holds the verified model, without copying 1 GB."""
    models = cache_dir / "models"
    models.mkdir(parents=True)
    (models / model.name).symlink_to(model)
    marker = model.with_name(model.name + ".sha256")
    (models / marker.name).write_text(marker.read_text())


def test_detached_server_outlives_launcher_and_is_reused(model: Path, tmp_path: Path) -> None:
    _link_model_into(tmp_path, model)
    launcher = _run_helper(  # what `benchmaker local start` does
        """
        import sys
        from pathlib import Path
        from benchmaker.local.server import start_detached
        print(start_detached(Path(sys.argv[1])).pid, flush=True)
        """,
        str(tmp_path),
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

        # /v1/models blocks while a completion runs; busy must still count as up.
        _generate_in_background(status.api_base, max_tokens=100)
        assert server_status(tmp_path) == status
        assert probe(status.api_base, timeout=0.5) == "busy"  # proves it was busy above

        # Stopping mid-generation: SIGTERM waits for the request, so this may take
        # the SIGKILL fallback (STOP_GRACE_SECONDS), but must always succeed.
        assert stop_detached(tmp_path) is True
        assert not pid_alive(server_pid)
        assert not (tmp_path / "server.json").exists()
        assert server_status(tmp_path) is None
        assert stop_detached(tmp_path) is False
    finally:
        _kill_quietly(server_pid)


def test_startup_failure_reports_log_tail(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    server = LocalModelServer(tmp_path, model_path=bogus)
    with pytest.raises(LocalModelError, match="exited with code .*Failed to load model"):
        server.start(startup_timeout=60)
    assert server.endpoint is None


# Needs no model: runs in the default (fast) test selection too.
def test_status_clears_stale_state_file(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"pid": dead.pid, "port": 1, "api_base": "http://127.0.0.1:1/v1", "started_at": "x"}
    (tmp_path / "server.json").write_text(json.dumps(state))
    assert LocalModelServer(tmp_path).status() is None
    assert not (tmp_path / "server.json").exists()
