"""Where the sandbox cannot put up every layer (no `unshare`, not root), program verification is refused
unless the config accepts weaker isolation, and the run records which layers its programs ran under
(finding 4)."""

import pytest

from benchmaker.config import parse_config
from benchmaker.run import start_run
from benchmaker.verification import sandbox
from benchmaker.verification.sandbox import FULL_ISOLATION, SandboxUnavailable
from tests.conftest import drive


def config(tmp_path, **program):
    return parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 1, "n_options": 4},
            "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
            "outputs_dir": str(tmp_path / "out"),
            "benchmaker": {"embedder": "hashing", "candidates": 1, "solver_samples": 2, "program": program},
        }
    )


@pytest.fixture
def bare_machine(monkeypatch):
    """As on a machine without a working `unshare`, as a user other than root."""
    monkeypatch.setattr(sandbox, "_launch", sandbox._Launch((), False))


def test_a_machine_without_every_layer_refuses_program_verification(tmp_path, bare_machine):
    run = start_run(config(tmp_path, mode="on"))
    with pytest.raises(SandboxUnavailable) as refused:
        drive(run)
    message = str(refused.value)
    assert "network_namespace, unprivileged_user" in message and "allow_weaker_isolation: true" in message
    assert run.store.items() == [] and run.store.calls() == []  # refused before any program or draft


def test_weaker_isolation_accepted_runs_and_records_the_layers(tmp_path, bare_machine):
    run = start_run(config(tmp_path, mode="on", allow_weaker_isolation=True))
    summary = drive(run)
    assert summary["accepted"] == 1
    expected = ["process", "rlimits", "restricted_python", "audit_hook"]
    assert run.store.manifest()["stages"]["program_verification"]["isolation"] == expected
    assert summary["program_verification"]["isolation"] == sorted(expected)
    assert run.store.items()[0].metadata["program"]["programs"][0]["tries"][0]["run"]["isolation"] == expected


def test_a_run_with_every_layer_records_them_all(tmp_path):
    if set(sandbox.isolation_layers()) != set(FULL_ISOLATION):
        pytest.skip("this machine cannot put up every layer (needs root and a working unshare)")
    run = start_run(config(tmp_path, mode="on"))
    summary = drive(run)
    assert run.store.manifest()["stages"]["program_verification"]["isolation"] == list(FULL_ISOLATION)
    assert summary["program_verification"]["isolation"] == sorted(FULL_ISOLATION)


def test_no_check_when_programs_are_off(tmp_path, bare_machine):
    run = start_run(config(tmp_path, mode="off"))
    assert drive(run)["accepted"] == 1
    assert run.store.manifest()["stages"]["program_verification"] == {
        "enabled": False,
        "decided_by": "config: benchmaker.program.mode off",
    }
