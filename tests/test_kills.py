"""SIGKILL a run against the simulated provider (with latency) a few times, resume it after each: nothing
lost or duplicated, no request paid twice beyond those in flight at a kill, and a second writer on the live
run is refused. ``scripts/bench_kills.py`` does it 20 times with the real command line and prints figures."""

import json
import re

import pytest
from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.simulate import LatencyModel, SimulationSettings
from tests.conftest import sim_models
from tests.kill_harness import ForkedSessions, kill_and_resume


def second_writer(run_dir, handle) -> str:
    """`benchmaker run --resume` on the run while a session writes it."""
    result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "-q"])
    assert result.exit_code == 1, result.output
    return result.stderr.strip()


@pytest.mark.slow
def test_kills_and_resumes_lose_and_duplicate_nothing(tmp_path, simulated_provider):
    provider = simulated_provider(SimulationSettings(seed=5, latency=LatencyModel(ttft_median_s=0.15, ttft_sigma=0.5)))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "requirement": {"description": "Two-digit multiplication.", "n_items": 6, "n_options": 4},
                "models": sim_models(provider),
                "method": "benchmaker",
                "outputs_dir": str(tmp_path / "outputs"),
                "concurrency": 4,
                "seed": 2,
                "benchmaker": {
                    "embedder": "hashing",
                    "candidates": 2,
                    "solver_samples": 3,
                    "attribute_proposals": 2,
                    "program": {"computability_votes": 1},
                },
            }
        )
    )
    report = kill_and_resume(
        ForkedSessions(tmp_path / "sessions.log"),
        provider,
        config,
        tmp_path / "outputs",
        kills=3,
        seed=7,
        delay=(0.5, 2.5),
        timeout_s=240,
        while_live=second_writer,
    )
    print("\n".join(report.lines()))
    assert len(report.kills) == 3, "the run must still be going at each kill"
    assert (report.status, report.items) == ("complete", 6)
    assert (report.lost, report.duplicated) == (0, 0)
    assert report.repaid_within_in_flight, "\n".join(report.lines())
    assert report.refusals and all(
        re.search(r"being written by another benchmaker process \(pid \d+\)", message) for message in report.refusals
    )
