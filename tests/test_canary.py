"""A key in the environment never lands in a file: after a run, a failed run and a score (with a robustness
companion that calls the run's models again), no file under outputs/, its logs, Prefect's home (its
database: flow parameters, states, logs) or benchmaker's home holds the key (finding 6, issue 12)."""

import os
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from benchmaker.cli import app
from tests.conftest import sim_models

CANARY_ENV = "BENCHMAKER_CANARY_KEY"


def files_holding(secret: bytes, *roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and secret in path.read_bytes():
                found.append(str(path))
    return found


@pytest.mark.slow
@pytest.mark.prefect
def test_a_canary_key_is_in_no_file_after_a_run_a_failed_run_and_a_score(
    tmp_path, simulated_provider, prefect_server, monkeypatch
):
    canary = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv(CANARY_ENV, canary)
    provider = simulated_provider()
    outputs = tmp_path / "outputs"
    runner = CliRunner()

    def config(name: str, model: str) -> Path:
        data = {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 1, "n_options": 4},
            "models": sim_models(provider, model=model, api_key_env=CANARY_ENV),
            "outputs_dir": str(outputs),
            "benchmaker": {"embedder": "hashing", "candidates": 1, "solver_samples": 2, "attribute_proposals": 1},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    done = runner.invoke(app, ["run", str(config("good", "openai/simulated")), "-q"])
    assert done.exit_code == 0, done.output
    run_dir = done.stdout.strip().splitlines()[-1]

    failed = runner.invoke(app, ["run", str(config("bad", "openai/simulated-unauthorized")), "-q"])
    assert failed.exit_code == 1 and "Incorrect API key provided" in failed.stderr, failed.output
    assert canary not in failed.output  # the provider echoed the key; the message does not

    scored = runner.invoke(
        app,
        ["score", run_dir, "--panel", "scripted", "--judge", "scripted", "--embedding-model", "hashing",
         "--robustness", "--outputs-dir", str(outputs), "-q"],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert canary in provider.stats.keys  # the key did reach the provider, every time it was needed

    # The flows ran against the session's Prefect server: its database holds their parameters, states and logs.
    roots = [outputs, prefect_server.home, Path(os.environ["PREFECT_HOME"]), Path(os.environ["BENCHMAKER_HOME"])]
    assert (outputs / "logs" / "prefect.log").exists() and any(prefect_server.home.rglob("*.db"))
    assert files_holding(canary.encode(), *roots) == []
