"""Program-verified answer keys inside the BenchMaker method, on the scripted fake.

The fake generator writes multiplication questions and, asked for a program, a correct one; scripts
replace either to stage every decision: agreement, disagreement (judge confirms or contradicts),
no matching option (rejected, or repaired when allowed), failing and hostile programs.
"""

import json

import pytest
import yaml

from benchmaker.compare import variant_config
from benchmaker.config import parse_config
from benchmaker.methods.benchmaker import attributes as attr
from benchmaker.methods.benchmaker.method import ATTRIBUTES_FILE
from benchmaker.methods.benchmaker.program_check import cleaned
from benchmaker.run import start_run
from benchmaker.scoring.benchmarks import load_benchmark
from benchmaker.scoring.quality import program_checks
from tests.conftest import drive

PROGRAM = "benchmaker.write_program"


def config(tmp_path, *, n_items=3, program=None, benchmaker=None, **models):
    roles = {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"], **models}
    return parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": n_items, "n_options": 4},
            "models": roles,
            "outputs_dir": str(tmp_path / "out"),
            "seed": 5,
            "benchmaker": {
                "embedder": "hashing",
                "candidates": 1,
                "solver_samples": 3,
                "program": program or {},
                **(benchmaker or {}),
            },
            "generation": {"max_attempts_per_item": 2},
        }
    )


def script(tmp_path, responses, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"responses": responses}), encoding="utf-8")
    return f"scripted:{path}"


def question(choices, answer, text="What is 12 multiplied by 10?"):
    """One stepwise candidate reply of the generator."""
    return json.dumps(
        {"analysis": "Plan.", "question": text, "reasoning": "12 x 10 = ...", "choices": choices, "answer": answer}
    )


def programs(*sources):
    return [json.dumps({"program": source}) for source in sources]


def requests_for(run, role, prompt_id):
    client = run.session.method.models[role].client
    while hasattr(client, "inner"):
        client = client.inner
    return [r for r in client.requests if r.prompt_id == prompt_id]


def user_text(request):
    return "\n".join(m.content for m in request.messages if m.role == "user")


# -- deciding whether to verify --------------------------------------------------------------------


def test_computable_requirement_gets_program_backed_keys_with_provenance(tmp_path):
    run = start_run(config(tmp_path))
    summary = drive(run)
    items = run.store.items()
    assert summary["accepted"] == 3 and summary["rejected"] == 0
    stage = run.store.manifest()["stages"]["program_verification"]
    assert stage["enabled"] is True and stage["decided_by"].startswith("demand analysis")
    for item in items:
        meta = item.metadata
        a, b = item.question.removeprefix("What is ").removesuffix("?").split(" multiplied by ")
        (program, run_record) = meta["program"]["tries"][0].values()
        assert f"a = {a}" in program and run_record["ok"] and run_record["value"]["text"] == str(int(a) * int(b))
        assert meta["program"]["outcome"] == "agree" and meta["key_evidence"] == "program"
        assert meta["program_option"] == [item.answer] and meta["options_repaired"] is False
        assert "restricted_python" in run_record["isolation"]
        assert PROGRAM in meta["prompts"]
    # The program never sees the choices: it must compute, not pick.
    for request in requests_for(run, "generator", PROGRAM):
        assert "A. " not in user_text(request)
    program = summary["program_verification"]
    assert program["drafts_checked"] == 3 and program["outcomes"]["agree"] == 3 and program["agreement_rate"] == 1.0
    assert program["accepted_with_program_key"] == 3 and program["accepted_share_with_program_key"] == 1.0


def votes(*answers):
    return [json.dumps({"calculation": "multiply" if a else "none", "computable": a}) for a in answers]


def test_non_computable_requirement_writes_no_program(tmp_path):
    generator = script(tmp_path, {"benchmaker.computability": votes(False, True, False, False, True)}, "g")
    run = start_run(config(tmp_path, generator=generator))
    summary = drive(run)
    assert summary["accepted"] == 3 and "program_verification" not in summary
    assert requests_for(run, "generator", PROGRAM) == []
    stage = run.store.manifest()["stages"]["program_verification"]
    assert stage == {"enabled": False, "decided_by": "demand analysis: answers are not computable"}
    assert "computability votes: 2 yes, 3 no, 0 unreadable" in run.store.manifest()["stages"]["analyse"]["notes"]
    assert attr.load_attributes(run.store.run_dir / ATTRIBUTES_FILE).demand.computable is False
    assert all(item.metadata["key_evidence"] == "generator" for item in run.store.items())


def test_computability_is_one_sampled_request_decided_by_majority_and_ties_say_no(tmp_path):
    generator = script(tmp_path, {"benchmaker.computability": [*votes(True, False), "not json"]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, program={"computability_votes": 3}))
    drive(run)
    (request,) = requests_for(run, "generator", "benchmaker.computability")
    assert request.n == 3 and "Two-digit multiplication." in user_text(request)
    analyse = run.store.manifest()["stages"]["analyse"]
    assert "computability votes: 1 yes, 1 no, 1 unreadable" in analyse["notes"]
    assert run.store.manifest()["stages"]["program_verification"]["enabled"] is False


def test_config_forces_program_verification_on_and_off_without_a_vote(tmp_path):
    generator = script(tmp_path, {"benchmaker.computability": votes(False, False, False, False, False)}, "g")
    forced = start_run(config(tmp_path / "on", n_items=1, program={"mode": "on"}, generator=generator))
    drive(forced)
    assert len(requests_for(forced, "generator", PROGRAM)) == 1
    assert requests_for(forced, "generator", "benchmaker.computability") == []
    decided_by = forced.store.manifest()["stages"]["program_verification"]["decided_by"]
    assert decided_by == "config: benchmaker.program.mode on"
    off = start_run(config(tmp_path / "off", n_items=1, program={"mode": "off"}))
    drive(off)
    assert requests_for(off, "generator", PROGRAM) == []


def test_computability_in_an_attributes_file_is_used_without_a_vote(tmp_path):
    first = start_run(config(tmp_path / "first", n_items=1))
    drive(first)
    saved = attr.load_attributes(first.store.run_dir / ATTRIBUTES_FILE)
    assert saved.demand.computable is True  # the vote is saved with the demand, for the user to edit
    edited = saved.model_copy(update={"demand": saved.demand.model_copy(update={"computable": False})})
    path = tmp_path / "edited-attributes.yaml"
    attr.save_attributes(path, edited)
    run = start_run(config(tmp_path / "second", n_items=1, benchmaker={"attributes_file": str(path)}))
    drive(run)
    assert requests_for(run, "generator", "benchmaker.computability") == []
    assert run.store.manifest()["stages"]["program_verification"]["enabled"] is False


# -- decisions ----------------------------------------------------------------------------------------


def test_disagreeing_program_goes_to_the_judge_which_confirms_its_option(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(["120", "130", "110", "140"], "B")]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    summary = drive(run)
    (item,) = run.store.items()
    meta = item.metadata
    assert item.choices[item.answer_index] == "120" and meta["relabelled"] is True
    assert meta["program"]["outcome"] == "disagree" and meta["key_evidence"] == "program"
    assert [v["order"] for v in meta["program"]["discrimination"]] == ["rival_first", "key_first"]
    judge_requests = requests_for(run, "judge", "benchmaker.discriminate")
    assert len(judge_requests) == 2 and "A program computed the answer" in user_text(judge_requests[0])
    assert summary["program_verification"]["outcomes"]["disagree"] == 1
    assert summary["program_verification"]["agreement_rate"] == 0.0


def test_judge_that_contradicts_the_program_gets_the_item_rejected(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(["120", "130", "110", "140"], "B")] * 2}, "g")
    sides_with_key = json.dumps({"analysis": "B is right.", "score": 2, "label": "B"})
    judge = script(tmp_path, {"benchmaker.discriminate": [sides_with_key] * 4}, "j")
    run = start_run(config(tmp_path, n_items=1, generator=generator, judge=judge))
    drive(run)
    assert run.store.items() == []
    rejection = run.store.rejections()[0]
    assert (rejection.stage, rejection.reason) == ("program", "judge_contradicts_program")
    assert rejection.evidence["program"]["outcome"] == "disagree" and rejection.draft.answer_index == 1


def test_disagreement_is_rejected_when_configured(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(["120", "130", "110", "140"], "B")] * 2}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, program={"on_disagreement": "reject"}))
    drive(run)
    reasons = {r.reason for r in run.store.rejections()}
    assert reasons == {"program_disagrees"} and requests_for(run, "judge", "benchmaker.discriminate") == []


def test_no_matching_option_is_rejected_unless_repair_is_allowed(tmp_path):
    wrong_options = question(["130 g", "140 g", "150 g", "160 g"], "A")
    generator = script(tmp_path, {"benchmaker.generate": [wrong_options] * 2}, "g")
    strict = start_run(config(tmp_path / "strict", n_items=1, generator=generator))
    drive(strict)
    assert {r.reason for r in strict.store.rejections()} == {"program_no_matching_option"}

    generator = script(tmp_path, {"benchmaker.generate": [wrong_options]}, "g2")
    repairing = start_run(config(tmp_path / "repair", n_items=1, generator=generator, program={"repair_options": True}))
    summary = drive(repairing)
    (item,) = repairing.store.items()
    meta = item.metadata
    assert (
        item.choices[item.answer_index] == "120 g" and "130 g" in item.choices
    )  # the wrong key stays, as a distractor
    assert meta["options_repaired"] is True and meta["program"]["outcome"] == "no_match"
    assert meta["repaired_option"] == [item.answer] and meta["program"]["repair"]["new_text"] == "120 g"
    assert summary["program_verification"]["options_repaired"] == 1


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import os\nos.system('echo pwned')", "program_forbidden_import"),
        ("answer = open('/etc/passwd').read()", "program_restricted"),
        ("import subprocess\nanswer = subprocess.run(['id'])", "program_forbidden_import"),
        ("import socket\nsocket.create_connection(('example.com', 80))", "program_forbidden_import"),
        ("answer = __import__('os').getcwd()", "program_restricted"),
        ("answer = ().__class__.__bases__[0].__subclasses__()", "program_restricted"),
        ("while True:\n    pass", "program_cpu_limit"),
        ("x = [0] * 10**10", "program_memory_limit"),
        ("for i in range(10**9):\n    print('x' * 1000)", "program_output_limit"),
        ("answer = 1 / 0", "program_exception"),
        ("x = 1", "program_no_answer"),
    ],
)
def test_a_failing_or_hostile_program_is_a_rejection_and_the_run_goes_on(tmp_path, source, reason):
    # Both the program and its one fix fail; the second attempt gets the fake's correct program.
    generator = script(tmp_path, {PROGRAM: programs(source, source)}, "g")
    limits = {"cpu_seconds": 1, "wall_seconds": 5, "memory_mb": 256}
    run = start_run(config(tmp_path, n_items=1, generator=generator, program={"limits": limits}))
    summary = drive(run)
    (rejection,) = run.store.rejections()
    assert rejection.stage == "program" and rejection.reason.startswith("program_")
    assert rejection.reason == reason or (reason == "program_cpu_limit" and rejection.reason == "program_timeout")
    assert len(rejection.evidence["program"]["tries"]) == 2 and rejection.evidence["program"]["outcome"] == "failed"
    assert summary["accepted"] == 1  # the next attempt's program was fine


def test_a_failed_program_is_sent_back_with_its_error_and_the_fix_is_used(tmp_path):
    generator = script(tmp_path, {PROGRAM: programs("answer = a * b")}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    (item,) = run.store.items()
    tries = item.metadata["program"]["tries"]
    assert [t["run"]["ok"] for t in tries] == [False, True] and "NameError" in tries[0]["run"]["detail"]
    first_request, fix_request = requests_for(run, "generator", PROGRAM)
    assert "answer = a * b" in user_text(fix_request) and "NameError" in user_text(fix_request)
    assert first_request.temperature == 0.0 and fix_request.temperature == 0.8  # greedy would repeat itself


def test_unparsable_program_reply_is_a_rejection(tmp_path):
    generator = script(tmp_path, {PROGRAM: ["not json"] * 3}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    assert run.store.rejections()[0].reason == "program_unparsable"


def test_program_backed_key_is_not_overruled_by_weak_solvers(tmp_path):
    wrong = json.dumps({"reasoning": "Guess.", "answer": "D"})
    generator = script(tmp_path, {"benchmaker.generate": [question(["120", "130", "110", "140"], "A")]}, "g")
    solver = script(tmp_path, {"benchmaker.solve": [wrong] * 3}, "s")
    run = start_run(config(tmp_path, n_items=1, generator=generator, solver=solver))
    drive(run)
    (item,) = run.store.items()
    assert item.metadata["conflict"] is True and item.metadata["key_evidence"] == "program"
    assert item.metadata["difficulty"] == 11.0  # every solver wrong: the hardest label
    assert requests_for(run, "judge", "benchmaker.discriminate") == []


def test_transport_artefacts_are_stripped_from_program_sources():
    assert cleaned("```python\nanswer = 1\n```") == "answer = 1"
    assert cleaned("answer = 1") == "answer = 1"
    assert cleaned("x = 2\nprint(x)}") == "x = 2\nprint(x)"  # a JSON brace leaked into the source
    assert cleaned("d = {1: 2}") == "d = {1: 2}"  # a brace the program needs stays
    assert cleaned("print(x))}") == "print(x))}"  # broken either way: left for the sandbox to report


# -- reporting ----------------------------------------------------------------------------------------


def test_quality_checks_show_program_evidence_share_and_agreement(tmp_path):
    generator = script(
        tmp_path, {"benchmaker.generate": [question(["120", "130", "110", "140"], "B")]}, "g"
    )  # one disagreement the judge resolves, then the fake's own correct questions
    run = start_run(config(tmp_path, n_items=3, generator=generator))
    drive(run)
    checks = program_checks(load_benchmark(run.store.run_dir))
    evidence, agreement = checks["program_evidence"], checks["program_agreement"]
    assert evidence.status == "ok" and evidence.value == 1.0 and evidence.details["with_program_key"] == 3
    assert agreement.value == pytest.approx(2 / 3) and agreement.details["outcomes"]["disagree"] == 1
    off = start_run(config(tmp_path / "off", n_items=1, program={"mode": "off"}))
    drive(off)
    missing = program_checks(load_benchmark(off.store.run_dir))["program_evidence"]
    assert missing.status == "not_computable" and "no answer-key program ran" in missing.reason


def test_compare_variant_switches_program_verification_off(tmp_path):
    base = config(tmp_path)
    assert variant_config(base, "benchmaker-no-program").benchmaker.program.mode == "off"
    assert variant_config(base, "benchmaker").benchmaker.program.mode == "auto"
    repair = variant_config(base, "benchmaker-repair").benchmaker.program
    assert repair.mode == "auto" and repair.repair_options is True
