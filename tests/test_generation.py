"""The generation session and the direct method, driven by a plain loop over the scripted fake."""

import hashlib
import json
from collections import Counter

import pytest

from benchmaker.config import parse_config
from benchmaker.errors import StoreError
from benchmaker.generation import StopReason
from benchmaker.llm.scripted import Script, ScriptedLLM
from benchmaker.methods.direct import mcq_reply_model
from benchmaker.run import resume_run, start_run
from tests.conftest import drive


def config(tmp_path, **overrides):
    data = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": 8, "n_options": 4},
        "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
        "outputs_dir": str(tmp_path / "out"),
        "method": "direct",
        "seed": 5,
    }
    data.update(overrides)
    return parse_config(data)


def test_direct_run_reaches_target_with_valid_balanced_items(tmp_path):
    run = start_run(config(tmp_path))
    summary = drive(run)
    items = run.store.items()
    assert summary["status"] == "complete" and len(items) == 8
    assert len({item.id for item in items}) == 8
    # balanced: 8 items over 4 letters is exactly 2 each
    assert Counter(item.answer for item in items) == {"A": 2, "B": 2, "C": 2, "D": 2}
    for item in items:
        a, b = (int(w) for w in item.question.removeprefix("What is ").removesuffix("?").split(" multiplied by "))
        assert item.choices[item.answer_index] == str(a * b), "shuffling must keep the key on the right choice"
        assert item.metadata["prompt"].startswith("direct.generate_mcq@1#")
    calls = run.store.calls()
    assert len(calls) == 8 and all(c.role == "generator" and not c.cached for c in calls)


def test_resume_replays_from_cache_and_skips_finished_attempts(tmp_path):
    first = start_run(config(tmp_path))
    for attempt in first.session.next_attempts()[:3]:
        first.session.record(first.session.run_attempt(attempt))
    first.store.close()  # the kill: the kernel drops the writer lock
    resumed = resume_run(first.store.run_dir)
    assert len(resumed.session.items) == 3
    assert resumed.session.next_attempts() == [3, 4, 5, 6]  # one wave: 4 per worker
    drive(resumed)
    assert [item.attempt for item in resumed.store.items()] == list(range(8))


def test_invalid_items_become_rejections_with_reasons(tmp_path):
    duplicate_choices = '{"question": "q?", "choices": ["1", "1", "2", "3"], "explanation": "e", "answer": "A"}'
    script_path = tmp_path / "script.yaml"
    import yaml

    lettered = '{"question": "q2?", "choices": ["A. 1", "B. 2", "C. 3", "D. 4"], "explanation": "e", "answer": "A"}'
    script_path.write_text(
        yaml.safe_dump(
            {"responses": {"direct.generate_mcq": [duplicate_choices, "not json", "still not", "nope", lettered]}}
        )
    )
    cfg = config(tmp_path, models={"generator": f"scripted:{script_path}"}, generation={"max_repairs": 2})
    run = start_run(cfg)
    summary = drive(run)
    reasons = [(r.attempt, r.stage, r.reason) for r in run.store.rejections()]
    assert reasons == [
        (0, "validate", "invalid_mcq"),
        (1, "generate", "unparsable_reply"),
        (2, "validate", "lettered_choices"),
    ]
    assert "choices are not unique" in run.store.rejections()[0].detail
    assert summary["accepted"] == 8 and summary["attempts"] == 11


def test_duplicate_questions_are_rejected(tmp_path):
    reply = '{"question": "Same?", "choices": ["1", "2", "3", "4"], "explanation": "e", "answer": "B"}'
    script_path = tmp_path / "dup.yaml"
    script_path.write_text(f"responses:\n  direct.generate_mcq: ['{reply}', '{reply}']\n")
    run = start_run(config(tmp_path, models={"generator": f"scripted:{script_path}"}))
    drive(run)
    assert [r.reason for r in run.store.rejections()] == ["duplicate_question"]
    assert len(run.store.items()) == 8


def test_retry_bound_stops_a_hopeless_run(tmp_path):
    script_path = tmp_path / "bad.yaml"
    script_path.write_text("responses:\n  direct.generate_mcq: " + str(["junk"] * 200) + "\n")
    cfg = config(
        tmp_path,
        models={"generator": f"scripted:{script_path}"},
        requirement={"description": "x", "n_items": 2},
        generation={"max_attempts_per_item": 3, "max_repairs": 0, "max_rejection_ratio": 1.0},
    )
    run = start_run(cfg)
    summary = drive(run)
    assert summary["stop_reason"] == StopReason.ATTEMPTS
    assert summary["attempts"] == 6 and summary["accepted"] == 0


def test_rejection_ratio_limit_stops_with_a_clear_message(tmp_path):
    script_path = tmp_path / "bad.yaml"
    script_path.write_text("responses:\n  direct.generate_mcq: " + str(["junk"] * 200) + "\n")
    cfg = config(
        tmp_path,
        models={"generator": f"scripted:{script_path}"},
        generation={"max_repairs": 0, "max_rejection_ratio": 0.5, "min_attempts_for_ratio": 4},
    )
    summary = drive(start_run(cfg))
    assert summary["stop_reason"] == StopReason.REJECTION_RATIO
    assert summary["attempts"] == 4
    assert "4 of 4 attempts were rejected" in summary["stop_detail"]


def test_budget_stops_cleanly_and_a_bigger_budget_resumes(tmp_path):
    from benchmaker.config import Budget

    run = start_run(config(tmp_path, budget={"max_calls": 3}))
    summary = drive(run)
    assert summary["stop_reason"] == StopReason.BUDGET and summary["accepted"] == 3
    resumed = resume_run(run.store.run_dir, budget=Budget(max_calls=20))
    assert drive(resumed)["accepted"] == 8
    assert len(resumed.store.calls()) == 8


@pytest.mark.parametrize("n", [2, 7, 10])
def test_reply_schema_pins_the_option_count(n):
    schema = mcq_reply_model(n).model_json_schema()
    assert schema["properties"]["choices"]["minItems"] == n == schema["properties"]["choices"]["maxItems"]
    assert list(schema["properties"]) == ["question", "choices", "explanation", "answer"]


def test_scripted_provider_is_deterministic():
    from benchmaker.llm.types import LLMRequest, Message

    req = LLMRequest(model="scripted", messages=(Message(role="user", content="x"),), prompt_id="direct.generate_mcq")
    assert ScriptedLLM(Script()).complete(req).text == ScriptedLLM(Script()).complete(req).text


def test_a_fatal_provider_error_stops_the_run_instead_of_rejecting_every_item(tmp_path):
    from benchmaker.errors import LLMFatalError

    script_path = tmp_path / "fatal.yaml"
    script_path.write_text("responses:\n  direct.generate_mcq: [{error: fatal}]\n")
    run = start_run(config(tmp_path, models={"generator": f"scripted:{script_path}"}))
    with pytest.raises(LLMFatalError, match="invalid api key"):
        run.session.run_attempt(0)
    assert run.store.rejections() == []


def test_a_run_made_before_a_config_field_existed_still_resumes(tmp_path):
    """A run written by an earlier version lacks fields added since (here two with defaults); its stored hash
    was computed over what it stored. Resuming re-parses the config with today's defaults and goes on."""
    first = start_run(config(tmp_path))
    first.session.record(first.session.run_attempt(0))
    first.store.close()
    path = first.store.run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["config"]["benchmaker"]["checks"], manifest["config"]["benchmaker"]["program"]["order"]
    canonical = json.dumps({k: v for k, v in manifest["config"].items() if k != "release"}, sort_keys=True)
    manifest["config_hash"] = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    path.write_text(json.dumps(manifest))
    resumed = resume_run(first.store.run_dir)
    assert drive(resumed)["accepted"] == 8

    manifest["config"]["seed"] = 6  # an edit after the fact still fails the check
    path.write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="config hash does not match"):
        resume_run(first.store.run_dir)
