"""Processes a Prefect test starts (server, serve process, workers, the flow runs they spawn), tagged so
that all of them, including flow runs in their own sessions or orphaned by a killed parent, can be found
and stopped by pid at the end, whatever happened."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO

TAG = "BENCHMAKER_TEST_TAG"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tagged_pids(tag: str) -> list[int]:
    """Pids whose environment carries ``BENCHMAKER_TEST_TAG=<tag>`` (inherited by every descendant)."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
    return found


def kill_tagged(tag: str, rounds: int = 20) -> list[int]:
    """SIGKILL every live process carrying ``tag`` until none is left; returns the pids it killed."""
    killed: list[int] = []
    for _ in range(rounds):
        pids = tagged_pids(tag)
        if not pids:
            return killed
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.2)
    return killed


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmaker.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def spawn(env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as handle:
        return subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO, env=env,
            start_new_session=True,
        )  # fmt: skip


def api(api_url: str, path: str, body: dict | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{api_url}{path}", data=data, method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with _NO_PROXY.open(request, timeout=30) as response:
        return json.load(response)


def wait_for(condition: Callable[[], bool], timeout: float, alive: list[subprocess.Popen], what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in alive:
            if process.poll() is not None:
                raise AssertionError(f"{what}: {process.args[:6]} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:g} s")
        time.sleep(0.3)
