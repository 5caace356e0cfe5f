"""The BenchMaker method end to end: scripted runs driven by a plain loop, resumes, ablations, rejections."""

import json
from collections import Counter

import pytest
import yaml

from benchmaker.config import parse_config
from benchmaker.errors import ConfigError
from benchmaker.generation import StopReason
from benchmaker.llm.scripted import ScriptedLLM
from benchmaker.methods.benchmaker import attributes as attr
from benchmaker.methods.benchmaker.method import ATTRIBUTES_FILE, PROMPT_IDS
from benchmaker.methods.benchmaker.plan import PLANS, AttemptPlan, PlanBook
from benchmaker.prompts import default_library
from benchmaker.run import resume_run, start_run
from tests.conftest import drive

STAGE_A = ("benchmaker.propose_attributes", "benchmaker.merge_attributes", "benchmaker.difficulty_attributes")


def config(tmp_path, *, generator="scripted", judge="scripted", benchmaker=None, **overrides):
    data = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": 6, "n_options": 4},
        "models": {"generator": generator, "solver": "scripted", "judge": judge, "panel": ["scripted"]},
        "outputs_dir": str(tmp_path / "out"),
        "seed": 11,
        # The paper's pipeline: program-verified keys and draft checks (our additions) have tests of their own.
        "benchmaker": {
            "embedder": "hashing",
            "references": 2,
            "program": {"mode": "off"},
            "checks": {"single_question": False, "constraints": False},
            **(benchmaker or {}),
        },
    }
    data.update(overrides)
    return parse_config(data)


def script(tmp_path, responses, name="script.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"responses": responses}), encoding="utf-8")
    return f"scripted:{path}"


def provider_of(run, role):
    """The scripted provider under a role's client stack (record -> cache -> budget -> retry)."""
    client = run.session.method.models[role].client
    while hasattr(client, "inner"):
        client = client.inner
    assert isinstance(client, ScriptedLLM)
    return client


def user_text(request):
    return "\n".join(m.content for m in request.messages if m.role == "user")


def true_product(question):
    a, b = question.removeprefix("What is ").removesuffix("?").split(" multiplied by ")
    return str(int(a) * int(b))


# -- end to end ---------------------------------------------------------------------------------------


def test_default_run_produces_items_with_full_provenance(tmp_path):
    cfg = config(tmp_path)
    assert cfg.method == "benchmaker"
    run = start_run(cfg)
    summary = drive(run)
    items = run.store.items()
    assert summary["status"] == "complete" and len(items) == 6 and summary["rejected"] == 0
    refs = {pid: default_library().get(pid).ref for pid in PROMPT_IDS}
    assert run.store.manifest()["prompt_versions"] == refs
    saved = attr.load_attributes(run.store.run_dir / ATTRIBUTES_FILE)
    general_names = {a.name for a in saved.general}
    difficulty_names = {a.name for a in saved.difficulty}
    assert len(general_names) == 8 and len(difficulty_names) == 6  # the configured minimums
    analyse = run.store.manifest()["stages"]["analyse"]
    assert analyse["status"] == "complete" and analyse["general_attributes"] == 8 and analyse["from_file"] is None
    for slot, item in enumerate(items):
        meta = item.metadata
        assert meta["method"] == "benchmaker" and meta["generator"] == "scripted" and meta["solver"] == "scripted"
        assert meta["prompts"] == {pid: refs[pid] for pid in ("benchmaker.generate", "benchmaker.solve")}
        plan = meta["plan"]
        assert plan["slot"] == slot and plan["bin"] == 10 * slot // 6
        assert set(plan["general"]) == general_names and set(plan["strategy"]) == difficulty_names
        assert plan["strategy_score"] >= 1
        assert len(plan["references"]) == min(slot, 2)
        # the scripted solver has skill 1: its answers are the key, as letters of the FINAL order
        assert meta["solver_answers"] == [item.answer] * 10
        assert meta["generator_key"] == [item.answer]
        assert item.choices[item.answer_index] == true_product(item.question)
        assert meta["difficulty"] == 1.0 and meta["conflict"] is False and meta["relabelled"] is False
        assert meta["candidates"]["requested"] == 5 and meta["candidates"]["parsed"] == 5
    # the check above means something only if some options were really moved
    assert any(item.metadata["original_answer_index"] != item.answer_index for item in items)
    assert Counter(call.prompt_id for call in run.store.calls()) == {
        "benchmaker.demand_analysis": 1,
        "benchmaker.propose_attributes": 5,
        "benchmaker.merge_attributes": 1,
        "benchmaker.difficulty_attributes": 1,
        "benchmaker.generate": 6,
        "benchmaker.solve": 6,
    }


def test_resume_reuses_plans_attributes_and_cache(tmp_path):
    run = start_run(config(tmp_path))
    session = run.session
    for attempt in session.next_attempts()[:3]:
        session.record(session.run_attempt(attempt))
    lost = session.run_attempt(3)  # the process is killed before this outcome is recorded
    plans_file = run.store.run_dir / PLANS
    assert plans_file.exists() and (run.store.run_dir / ATTRIBUTES_FILE).exists()
    usage_before = PlanBook(run.store).usage()
    plan_before = PlanBook(run.store).get(3)
    calls_before = len(run.store.calls())
    run.store.close()  # the kill: the kernel drops the writer lock

    resumed = resume_run(run.store.run_dir)
    assert PlanBook(resumed.store).usage() == usage_before
    summary = drive(resumed)
    assert summary["accepted"] == 6
    new_calls = resumed.store.calls()[calls_before:]
    assert not {call.prompt_id for call in new_calls} & {*STAGE_A, "benchmaker.demand_analysis"}
    replayed = [call for call in new_calls if call.attempt == 3]
    assert [c.prompt_id for c in replayed] == ["benchmaker.generate", "benchmaker.solve"]
    assert all(c.cached for c in replayed)  # byte-identical prompts: its plan was reused
    assert PlanBook(resumed.store).get(3) == plan_before
    assert resumed.store.items()[3].question == lost.mcq.question
    # one plan per attempt, never re-planned
    attempts = [json.loads(line)["attempt"] for line in plans_file.read_text().splitlines()]
    assert sorted(attempts) == list(range(6))

    again = resume_run(run.store.run_dir)
    assert drive(again)["calls_this_session"] == 0 and len(again.store.calls()) == len(resumed.store.calls())


def test_a_batch_fills_consecutive_slots_and_a_resumed_attempt_keeps_its_plan(tmp_path):
    run = start_run(config(tmp_path, concurrency=4))
    session = run.session
    wave = session.next_attempts()
    assert wave == [0, 1, 2, 3]  # one attempt per worker: diffusion sees every earlier batch
    outcomes = [session.run_attempt(attempt) for attempt in wave]  # a concurrent batch: all see 0 items
    # each attempt of the batch fills its own slot (so its own strategy bin), none has references yet
    assert [PlanBook(run.store).get(a).slot for a in wave] == [0, 1, 2, 3]
    for outcome in outcomes[:3]:
        session.record(outcome)  # killed before attempt 3 was recorded
    assert PlanBook(run.store).get(3).slot == 3
    calls_before = len(run.store.calls())
    run.store.close()  # the kill: the kernel drops the writer lock

    resumed = resume_run(run.store.run_dir)
    drive(resumed)
    item = next(item for item in resumed.store.items() if item.attempt == 3)
    assert item.question == outcomes[3].mcq.question
    assert item.metadata["plan"]["slot"] == 3 and item.metadata["plan"]["references"] == []
    replayed = [c for c in resumed.store.calls()[calls_before:] if c.attempt == 3]
    assert replayed and all(c.cached for c in replayed)


def test_diffusion_references_name_earlier_accepted_items(tmp_path):
    run = start_run(config(tmp_path))
    drive(run)
    items = run.store.items()
    accepted_at = {item.id: item.attempt for item in items}
    plans = [AttemptPlan.model_validate_json(line) for line in (run.store.run_dir / PLANS).read_text().splitlines()]
    assert [p.attempt for p in plans] == list(range(6))
    assert plans[0].references == []
    for plan in plans[1:]:
        assert 1 <= len(plan.references) <= 2
        assert all(accepted_at[ref] < plan.attempt for ref in plan.references)
    usage = PlanBook(run.store).usage()
    assert usage == Counter(ref for p in plans for ref in p.references)
    # the references are shown in the generation prompt, the others are not
    questions = {item.id: item.question for item in items}
    requests = [r for r in provider_of(run, "generator").requests if r.prompt_id == "benchmaker.generate"]
    assert [r.attempt for r in requests] == list(range(6))
    for plan, request in zip(plans, requests, strict=True):
        text = user_text(request)
        assert ("Existing questions of the benchmark:" in text) == bool(plan.references)
        for item_id, question in questions.items():
            assert (question in text) == (item_id in plan.references)


def test_saved_attributes_file_steers_a_new_run_without_stage_a(tmp_path):
    first = start_run(config(tmp_path))
    drive(first)
    edited = attr.load_attributes(first.store.run_dir / ATTRIBUTES_FILE).model_copy(
        update={"general": [attr.GeneralAttribute(name="Setting", values=["a farmers' market"])]}
    )
    path = tmp_path / "edited.yaml"
    attr.save_attributes(path, edited)

    run = start_run(config(tmp_path / "second", benchmaker={"attributes_file": str(path)}))
    drive(run)
    prompt_ids = {call.prompt_id for call in run.store.calls()}
    assert prompt_ids.isdisjoint(STAGE_A) and "benchmaker.demand_analysis" not in prompt_ids
    assert attr.load_attributes(run.store.run_dir / ATTRIBUTES_FILE) == edited
    assert all(item.metadata["plan"]["general"] == {"Setting": "a farmers' market"} for item in run.store.items())


def test_a_bad_attributes_file_stops_the_run_before_any_call(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("general:\n  - name: Setting\n    values: [lab]\n    colour: red\n")
    run = start_run(config(tmp_path, benchmaker={"attributes_file": str(path)}))
    with pytest.raises(ConfigError, match="general.0.colour: unknown key"):
        run.session.next_attempts()
    assert run.store.calls() == []


def test_without_self_test_and_discrimination_no_solver_is_called(tmp_path):
    steps = {"self_test": False, "discrimination": False}
    run = start_run(config(tmp_path, benchmaker={"steps": steps}))
    summary = drive(run)
    assert summary["accepted"] == 6
    assert {call.role for call in run.store.calls()} == {"generator"}
    assert "benchmaker.solve" not in {call.prompt_id for call in run.store.calls()}
    for item in run.store.items():
        assert item.metadata["difficulty"] is None and "solver_answers" not in item.metadata
        assert item.choices[item.answer_index] == true_product(item.question)


def test_discrimination_without_self_test_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="steps.discrimination needs steps.self_test"):
        config(tmp_path, benchmaker={"steps": {"self_test": False}})


def test_ablated_steps_leave_their_traces_out(tmp_path):
    steps = {"attributes": False, "strategy_guidance": False, "diffusion": False, "demand_analysis": False}
    run = start_run(config(tmp_path, benchmaker={"steps": steps, "candidates": 2}))
    drive(run)
    assert {call.prompt_id for call in run.store.calls()} == {"benchmaker.generate", "benchmaker.solve"}
    for item in run.store.items():
        plan = item.metadata["plan"]
        assert plan["general"] == {} and plan["strategy"] == {} and plan["bin"] is None and plan["references"] == []


# -- rejections and stop conditions -------------------------------------------------------------------


def test_unparsable_candidates_exhaust_the_attempts(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": ["not json"] * 50})
    cfg = config(
        tmp_path,
        generator=generator,
        benchmaker={"candidates": 1},
        requirement={"description": "Two-digit multiplication.", "n_items": 2},
        generation={"max_attempts_per_item": 3, "max_rejection_ratio": 1.0},
    )
    run = start_run(cfg)
    summary = drive(run)
    assert summary["stop_reason"] == StopReason.ATTEMPTS
    assert summary["attempts"] == 6 and summary["accepted"] == 0
    rejections = run.store.rejections()
    assert [r.attempt for r in rejections] == list(range(6))
    assert {(r.stage, r.reason) for r in rejections} == {("generate", "no_parsable_candidate")}
    assert "candidate 0: invalid JSON" in rejections[0].detail


def test_rejection_ratio_stops_a_hopeless_run(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": ["not json"] * 50})
    cfg = config(
        tmp_path,
        generator=generator,
        benchmaker={"candidates": 1},
        generation={"max_rejection_ratio": 0.5, "min_attempts_for_ratio": 4},
    )
    summary = drive(start_run(cfg))
    assert summary["stop_reason"] == StopReason.REJECTION_RATIO
    assert summary["attempts"] == 4 and "4 of 4 attempts were rejected" in summary["stop_detail"]


def test_a_candidate_duplicating_an_accepted_item_is_rejected(tmp_path):
    reply = {
        "analysis": "a",
        "question": "What is 21 multiplied by 11?",
        "reasoning": "21 x 11 = 231.",
        "choices": ["231", "221", "241", "211"],
        "answer": "A",
    }
    spaced = {**reply, "question": "  what is 21 multiplied by 11? "}
    generator = script(tmp_path, {"benchmaker.generate": [json.dumps(reply), json.dumps(spaced)]})
    run = start_run(config(tmp_path, generator=generator, benchmaker={"candidates": 1}))
    drive(run)
    [rejection] = run.store.rejections()
    assert (rejection.attempt, rejection.stage, rejection.reason) == (1, "diversity", "near_duplicate")
    assert len(run.store.items()) == 6


# -- conflicts: relabel or reject ------------------------------------------------------------------------

WRONG_KEY = {
    "analysis": "Plan, draft, solve, distract, re-check.",
    "question": "What is 12 multiplied by 10?",
    "reasoning": "Twelve tens make a hundred.",
    "choices": ["100", "120", "130", "140"],
    "answer": "A",
}


def test_a_wrong_key_is_relabelled_by_the_judge(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [json.dumps(WRONG_KEY)]})
    cfg = config(
        tmp_path,
        generator=generator,
        benchmaker={"candidates": 1},
        requirement={"description": "Two-digit multiplication.", "n_items": 1},
    )
    run = start_run(cfg)
    summary = drive(run)
    assert summary["accepted"] == 1
    assert summary["difficulty"] == {"labelled": 1, "mean": 1.0, "relabelled": 1}
    [item] = run.store.items()
    meta = item.metadata
    assert item.question == WRONG_KEY["question"] and item.choices[item.answer_index] == "120"
    assert meta["relabelled"] is True and meta["conflict"] is True and meta["difficulty"] == 1.0
    assert meta["judge"] == "scripted"
    assert [v["order"] for v in meta["discrimination"]] == ["rival_first", "key_first"]
    assert all(v["score"] == 2 for v in meta["discrimination"])
    assert meta["judge_labels"] == [item.answer, item.answer]
    assert meta["solver_answers"] == [item.answer] * 10
    wrong_letter = "ABCD"[item.choices.index("100")]
    assert meta["generator_key"] == [wrong_letter] != [item.answer]
    judge_calls = [c for c in run.store.calls() if c.prompt_id == "benchmaker.discriminate"]
    assert len(judge_calls) == 2 and {c.role for c in judge_calls} == {"judge"}
    assert "benchmaker.discriminate" in meta["prompts"]


def test_judges_that_disagree_on_swap_reject_the_item(tmp_path):
    verdicts = [
        json.dumps({"analysis": "a", "score": 2, "label": "A"}),
        json.dumps({"analysis": "b", "score": 2, "label": "B"}),
    ]
    generator = script(tmp_path, {"benchmaker.generate": [json.dumps(WRONG_KEY)]}, name="gen.yaml")
    judge = script(tmp_path, {"benchmaker.discriminate": verdicts}, name="judge.yaml")
    cfg = config(
        tmp_path,
        generator=generator,
        judge=judge,
        benchmaker={"candidates": 1},
        requirement={"description": "Two-digit multiplication.", "n_items": 1},
    )
    run = start_run(cfg)
    drive(run)
    [rejection] = run.store.rejections()
    assert (rejection.attempt, rejection.stage, rejection.reason) == (0, "discrimination", "judge_inconsistent_on_swap")
    assert len(run.store.items()) == 1 and run.store.items()[0].metadata["attempt"] == 1
    # the rejected question is kept, with the generator's (wrong) key, so it can be audited
    assert rejection.draft.question == WRONG_KEY["question"] and rejection.draft.answer_index == 0

    from benchmaker.compare import summarise_run

    row = summarise_run(run.store.run_dir, checker="arithmetic")
    assert row.rejected_key_check == {"correct": 0, "wrong": 1, "unchecked": 0, "correct_share": 0.0}
    assert row.key_check["correct"] == 1


def test_a_conflict_without_discrimination_keeps_the_generator_key(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [json.dumps(WRONG_KEY)]})
    cfg = config(
        tmp_path,
        generator=generator,
        benchmaker={"candidates": 1, "steps": {"discrimination": False}},
        requirement={"description": "Two-digit multiplication.", "n_items": 1},
    )
    run = start_run(cfg)
    drive(run)
    [item] = run.store.items()
    assert item.choices[item.answer_index] == "100"  # nobody corrected it
    assert item.metadata["conflict"] is True and item.metadata["difficulty"] == 11.0
    assert "benchmaker.discriminate" not in {c.prompt_id for c in run.store.calls()}


def test_a_budget_spent_by_the_run_level_steps_stops_the_run_cleanly(tmp_path):
    run = start_run(config(tmp_path, budget={"max_calls": 3}))
    summary = drive(run)
    assert summary["status"] == "stopped" and summary["stop_reason"] == StopReason.BUDGET
    assert "budget" in summary["stop_detail"] and summary["accepted"] == 0
    assert len(run.store.calls()) == 3


def test_a_failed_merge_falls_back_to_the_union_of_the_proposals_and_says_so(tmp_path):
    generator = script(tmp_path, {"benchmaker.merge_attributes": ["not json", "{}", '{"attributes": []}']})
    cfg = config(tmp_path, generator=generator, benchmaker={"attribute_proposals": 2})
    run = start_run(cfg)
    summary = drive(run)
    assert summary["status"] == "complete"
    merges = [c for c in run.store.calls() if c.prompt_id == "benchmaker.merge_attributes"]
    assert len(merges) == 3  # the reply and two re-asks with the validation error
    saved = attr.load_attributes(run.store.run_dir / ATTRIBUTES_FILE)
    # the scripted proposals both name "Attribute 1".."Attribute 6": the union has each once, values merged
    assert [a.name for a in saved.general] == [f"Attribute {i}" for i in range(1, 7)]
    notes = run.store.manifest()["stages"]["analyse"]["notes"]
    assert len(notes) == 1 and "used the union of 2 proposals" in notes[0]


def test_trigger_any_sends_an_item_with_one_dissenting_solver_to_the_judge(tmp_path):
    # the solver keeps the key 2 of 3 times: no majority conflict, but one dissent
    solver = script(
        tmp_path,
        {"benchmaker.solve": [json.dumps({"reasoning": "r", "answer": a}) for a in ("A", "A", "B")]},
        name="solver.yaml",
    )
    generator = script(tmp_path, {"benchmaker.generate": [json.dumps(WRONG_KEY)]}, name="gen.yaml")
    requirement = {"description": "Two-digit multiplication.", "n_items": 1}
    for trigger, judged in (("majority", False), ("any", True)):
        cfg = config(
            tmp_path / trigger,
            generator=generator,
            requirement=requirement,
            models={"generator": generator, "solver": solver, "judge": "scripted", "panel": ["scripted"]},
            benchmaker={"candidates": 1, "solver_samples": 3, "discrimination_trigger": trigger},
        )
        run = start_run(cfg)
        drive(run)
        item = run.store.items()[0]
        assert item.metadata["conflict"] is judged
        assert ("discrimination" in item.metadata) is judged
