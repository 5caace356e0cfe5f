"""An attempt that fails in a way nobody foresaw is that attempt's rejection, never a dead run (finding 3)."""

import json

import pytest
import yaml

from benchmaker.config import parse_config
from benchmaker.errors import StoreError
from benchmaker.methods.benchmaker import verify as verify_module
from benchmaker.methods.benchmaker.program_check import cleaned
from benchmaker.run import resume_run, start_run
from tests.conftest import drive

DEEP = "answer = " + "-" * 3000 + "1"
"""Parses to 3,000 nested unary minus nodes: RecursionError in ast.parse of the parent process."""


def config(tmp_path, generator="scripted", n_items=2):
    return parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": n_items, "n_options": 4},
            "models": {"generator": generator, "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
            "outputs_dir": str(tmp_path / "out"),
            "seed": 5,
            "benchmaker": {"embedder": "hashing", "candidates": 1, "solver_samples": 3, "program": {"mode": "on"}},
        }
    )


def test_cleaning_a_deeply_nested_program_does_not_raise():
    assert cleaned(DEEP) == DEEP
    assert cleaned(DEEP + "}") == DEEP + "}"  # does not parse either way: left for the sandbox to refuse


def test_a_program_too_deep_to_parse_is_rejected_and_a_resume_goes_past_it(tmp_path):
    script = tmp_path / "deep.yaml"
    reply = json.dumps({"program": DEEP})
    # Two programs of a bare majority, each with its fix: all four too deep (then a majority is out of reach).
    script.write_text(yaml.safe_dump({"responses": {"benchmaker.write_program": [reply] * 4}}))
    run = start_run(config(tmp_path, generator=f"scripted:{script}"))
    summary = drive(run)
    assert summary["status"] == "complete" and summary["accepted"] == 2
    (rejection,) = run.store.rejections()
    assert (rejection.attempt, rejection.stage, rejection.reason) == (0, "program", "program_restricted")
    assert "RecursionError" in rejection.detail or "too many nested" in rejection.detail
    calls = len(run.store.calls())
    again = resume_run(run.store.run_dir)  # replays nothing: attempt 0 is recorded
    assert drive(again)["calls_this_session"] == 0 and len(again.store.calls()) == calls


def test_any_unexpected_exception_in_an_attempt_becomes_an_internal_error_rejection(tmp_path, monkeypatch):
    real = verify_module.take_test
    seen = []

    def take_test_with_a_bug(*args, **kwargs):
        seen.append(kwargs["attempt"])
        if len(seen) == 1:
            return {}["missing"]  # KeyError, as a bug would raise
        return real(*args, **kwargs)

    monkeypatch.setattr(verify_module, "take_test", take_test_with_a_bug)
    run = start_run(config(tmp_path))
    summary = drive(run)
    assert summary["status"] == "complete" and summary["accepted"] == 2
    (rejection,) = run.store.rejections()
    assert (rejection.attempt, rejection.reason) == (0, "internal_error")
    assert rejection.stage == "verify"  # the method's module the exception came out of
    assert rejection.detail.startswith("KeyError: 'missing'") and "test_attempt_faults.py" not in rejection.detail
    assert "verify.py:" in rejection.detail


def test_a_recursion_error_deep_in_a_step_is_a_rejection_too(tmp_path, monkeypatch):
    def recurse(*args, **kwargs):
        return recurse(*args, **kwargs)

    monkeypatch.setattr(verify_module, "take_test", recurse)
    run = start_run(config(tmp_path, n_items=1))
    run.session.prepare()
    outcome = run.session.run_attempt(0)
    assert outcome.reason == "internal_error" and outcome.detail.startswith("RecursionError")
    run.store.close()


def test_the_run_s_own_files_failing_still_stops_the_run(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise StoreError("cannot append to llm_calls.jsonl: No space left on device")

    run = start_run(config(tmp_path, n_items=1))
    run.session.prepare()
    monkeypatch.setattr(verify_module, "take_test", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        run.session.run_attempt(0)
    run.store.close()
