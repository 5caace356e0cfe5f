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

# Each test runs sandboxed programs (a fresh interpreter per program): seconds each, so not in the fast loop.
pytestmark = pytest.mark.slow

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


def question(choices, answer, text="What is 12 multiplied by 10?", value="120", reasoning="12 x 10 = 120."):
    """One stepwise candidate reply of the generator, with its own final value (computable requirements)."""
    reply = {"analysis": "Plan.", "question": text, "reasoning": reasoning, "choices": choices, "answer": answer}
    return json.dumps({**reply, "value": value} if value is not None else reply)


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
        record = meta["program"]
        # Two programs agreed, so the third of three was never asked for.
        assert (record["requested"], record["skipped"], record["supporters"]) == (3, 1, [0, 1])
        for written in record["programs"]:
            (program, run_record) = written["tries"][0].values()
            assert f"a = {a}" in program and run_record["value"]["text"] == str(int(a) * int(b))
            assert run_record["ok"] and "restricted_python" in run_record["isolation"]
        assert record["outcome"] == "agree" and meta["key_evidence"] == "program+generator"
        assert record["generator_value_agrees"] is True and meta["generator_value"] == str(int(a) * int(b))
        assert meta["program_option"] == [item.answer] and meta["options_repaired"] is False
        assert PROGRAM in meta["prompts"]
        assert len(meta["draft_check"]["verdict"]["readings"]) == 3  # the judge's check was made, three readings
    # The program never sees the choices: it must compute, not pick.
    for request in requests_for(run, "generator", PROGRAM):
        assert "A. " not in user_text(request)
    program = summary["program_verification"]
    assert program["drafts_checked"] == 3 and program["outcomes"]["agree"] == 3 and program["agreement_rate"] == 1.0
    assert program["accepted_with_program_key"] == 3 and program["accepted_share_with_program_key"] == 1.0
    assert program["programs"] == {"requested": 9, "skipped": 3, "failed": 0}


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
    assert all(item.metadata["key_evidence"] == "generator+solvers" for item in run.store.items())


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
    (programs_request,) = requests_for(forced, "generator", PROGRAM)
    assert programs_request.n == 2 and programs_request.temperature == 0.7  # a bare majority of 3, sampled
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


# -- decisions, through the pipeline ------------------------------------------------------------------

OPTIONS = ["120", "130", "110", "140"]


def test_a_slipped_letter_is_corrected_by_the_generators_value_without_the_judge(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "B", value="120")]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    (item,) = run.store.items()
    meta = item.metadata
    assert item.choices[item.answer_index] == "120" and meta["relabelled"] is True
    assert meta["program"]["outcome"] == "letter_slip" and meta["key_evidence"] == "program+generator"
    assert requests_for(run, "judge", "benchmaker.discriminate") == []
    assert "A program computed the answer" in meta["solution"]  # the programs' work argues for the new key


def test_a_disagreeing_majority_goes_to_the_judge_which_confirms_its_option(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "B", value="130")]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    summary = drive(run)
    (item,) = run.store.items()
    meta = item.metadata
    assert item.choices[item.answer_index] == "120" and meta["relabelled"] is True
    assert meta["program"]["outcome"] == "disagree" and meta["key_evidence"] == "program+judge"
    assert [v["order"] for v in meta["program"]["discrimination"]] == ["rival_first", "key_first"]
    first, second = (user_text(r) for r in requests_for(run, "judge", "benchmaker.discriminate"))
    # Each solution ends by naming its option as the judge sees the options: the key's B "130", the programs' A.
    assert "A program computed the answer" in first and "The answer is A. 120" in first
    assert "The answer is B. 130" in first and first.index("The answer is A. 120") < first.index("The answer is B")
    assert "The answer is B. 130" in second.split("Solution 2")[0]
    assert summary["program_verification"]["outcomes"]["disagree"] == 1
    assert summary["program_verification"]["agreement_rate"] == 0.0


def test_judge_that_contradicts_the_programs_gets_the_item_rejected(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "B", value="130")] * 2}, "g")
    sides_with_key = json.dumps({"analysis": "B is right.", "score": 2, "label": "B"})
    judge = script(tmp_path, {"benchmaker.discriminate": [sides_with_key] * 4}, "j")
    run = start_run(config(tmp_path, n_items=1, generator=generator, judge=judge))
    drive(run)
    assert run.store.items() == []
    rejection = run.store.rejections()[0]
    assert (rejection.stage, rejection.reason) == ("program", "judge_contradicts_program")
    assert rejection.evidence["program"]["outcome"] == "disagree" and rejection.draft.answer_index == 1


def test_disagreement_is_rejected_when_configured(tmp_path):
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "B", value="130")] * 2}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, program={"on_disagreement": "reject"}))
    drive(run)
    reasons = {r.reason for r in run.store.rejections()}
    assert reasons == {"program_disagrees"} and requests_for(run, "judge", "benchmaker.discriminate") == []


def test_no_matching_option_is_repaired_only_when_the_generators_value_confirms_it(tmp_path):
    wrong_options = ["130 g", "140 g", "150 g", "160 g"]
    generator = script(tmp_path, {"benchmaker.generate": [question(wrong_options, "A", value="130 g")] * 2}, "g")
    unconfirmed = start_run(config(tmp_path / "unconfirmed", n_items=1, generator=generator))
    drive(unconfirmed)
    assert {r.reason for r in unconfirmed.store.rejections()} == {"program_unconfirmed"}

    generator = script(tmp_path, {"benchmaker.generate": [question(wrong_options, "A", value="120 g")] * 2}, "g2")
    off = start_run(config(tmp_path / "off", n_items=1, generator=generator, program={"repair_options": "off"}))
    drive(off)
    assert {r.reason for r in off.store.rejections()} == {"program_no_matching_option"}

    generator = script(tmp_path, {"benchmaker.generate": [question(wrong_options, "A", value="120 g")]}, "g3")
    repairing = start_run(config(tmp_path / "repair", n_items=1, generator=generator))
    summary = drive(repairing)
    (item,) = repairing.store.items()
    meta = item.metadata
    assert item.choices[item.answer_index] == "120 g" and "130 g" in item.choices  # the wrong key stays
    assert meta["options_repaired"] is True and meta["program"]["outcome"] == "repaired"
    assert meta["key_evidence"] == "program+generator"
    assert meta["repaired_option"] == [item.answer] and meta["program"]["repair"]["new_text"] == "120 g"
    assert summary["program_verification"]["options_repaired"] == 1


STOICHIOMETRY = (
    "For the reaction N2 + 3H2 -> 2NH3, you have 6 moles of N2. Determine how many moles of H2 are needed to "
    "react completely with the N2, and which reagent is the limiting reagent."
)


@pytest.mark.parametrize("checks", [True, False])
@pytest.mark.parametrize("repair", ["confirmed", "unconfirmed"])
def test_the_stoichiometry_regression_is_never_keyed_9_and_never_loses_18(tmp_path, checks, repair):
    """Measured on a fresh clone: the generator's solution said 18 (right), "18" was an option, its one
    program computed 9, and the old policy wrote 9 over "18" and keyed it."""
    draft = question(["4", "18", "6", "2"], "C", text=STOICHIOMETRY, value="18", reasoning="6 x 3 = 18 mol of H2.")
    generator = script(
        tmp_path,
        {"benchmaker.generate": [draft] * 2, PROGRAM: programs(*["n = 6\nanswer = n * 3 / 2"] * 6)},
        "g",
    )
    flags = {"single_question": checks, "constraints": checks}
    run = start_run(
        config(
            tmp_path, n_items=1, generator=generator, program={"repair_options": repair}, benchmaker={"checks": flags}
        )
    )
    drive(run)
    assert run.store.items() == []  # nothing supports 9 but the programs; the draft is turned down
    expected = (
        "asks_several_things"
        if checks
        else {"confirmed": "program_unconfirmed", "unconfirmed": "evidence_not_accepted"}[repair]
    )
    assert {r.reason for r in run.store.rejections()} == {expected}


def test_programs_that_disagree_with_each_other_are_rejected_after_the_third_is_asked(tmp_path):
    generator = script(tmp_path, {PROGRAM: programs("answer = 120", "answer = 121", "answer = 122")}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    rejection = run.store.rejections()[0]
    assert (rejection.stage, rejection.reason) == ("program", "programs_disagree")
    record = rejection.evidence["program"]
    assert record["skipped"] == 0 and [len(c["programs"]) for c in record["clusters"]] == [1, 1, 1]
    first, third = requests_for(run, "generator", PROGRAM)[:2]
    assert (first.n, third.n) == (2, 1) and third.seed == first.seed + 2  # a third program, with its own seed


def test_a_split_can_go_to_the_judge_whose_key_is_then_judge_backed(tmp_path):
    split = {
        "benchmaker.generate": [question(OPTIONS, "A")],
        PROGRAM: programs("answer = 120", "answer = 130", "answer = 7"),
    }
    generator = script(tmp_path, split, "g")
    settings = {"program": {"on_split": "discriminate"}, "key_evidence": ["judge", "program+generator"]}
    run = start_run(config(tmp_path, n_items=1, generator=generator, benchmaker=settings))
    drive(run)
    (item,) = run.store.items()
    assert item.metadata["key_evidence"] == "judge" and item.choices[item.answer_index] == "120"
    assert item.attempt == 0 and len(requests_for(run, "judge", "benchmaker.discriminate")) == 2
    default = start_run(
        config(tmp_path / "default", n_items=1, generator=generator, program={"on_split": "discriminate"})
    )
    drive(default)
    assert {r.reason for r in default.store.rejections()} == {"evidence_not_accepted"}  # not program-backed


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
        ("answer = " + "-" * 3000 + "1", "program_restricted"),  # too deep for the parser: not a crash
    ],
)
def test_a_failing_or_hostile_program_is_a_rejection_and_the_run_goes_on(tmp_path, source, reason):
    # Both programs of the first batch and their fixes fail (a majority of 3 is then out of reach);
    # the second attempt gets the fake's correct programs.
    generator = script(tmp_path, {PROGRAM: programs(*[source] * 4)}, "g")
    limits = {"cpu_seconds": 1, "wall_seconds": 5, "memory_mb": 256}
    run = start_run(config(tmp_path, n_items=1, generator=generator, program={"limits": limits}))
    summary = drive(run)
    (rejection,) = run.store.rejections()
    assert rejection.stage == "program" and rejection.reason.startswith("program_")
    assert rejection.reason == reason or (reason == "program_cpu_limit" and rejection.reason == "program_timeout")
    written = rejection.evidence["program"]["programs"]
    assert len(written) == 2 and all(len(p["tries"]) == 2 for p in written)
    assert rejection.evidence["program"]["outcome"] == "failed"
    assert summary["accepted"] == 1  # the next attempt's programs were fine


def test_a_failed_program_is_sent_back_with_its_error_and_the_fix_is_used(tmp_path):
    generator = script(tmp_path, {PROGRAM: programs("answer = a * b")}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    (item,) = run.store.items()
    first, second = item.metadata["program"]["programs"]
    assert [t["run"]["ok"] for t in first["tries"]] == [False, True] and "NameError" in first["tries"][0]["run"][
        "detail"
    ]
    assert [t["run"]["ok"] for t in second["tries"]] == [True]
    batch, fix_request = requests_for(run, "generator", PROGRAM)
    assert "answer = a * b" in user_text(fix_request) and "NameError" in user_text(fix_request)
    assert batch.temperature == 0.7 and fix_request.temperature == 0.8  # greedy would repeat itself


def test_unparsable_program_replies_are_a_rejection(tmp_path):
    generator = script(tmp_path, {PROGRAM: ["not json"] * 3}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    assert run.store.rejections()[0].reason == "program_unparsable"


def test_program_backed_key_is_not_overruled_by_weak_solvers(tmp_path):
    wrong = json.dumps({"reasoning": "Guess.", "answer": "D"})
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "A")]}, "g")
    solver = script(tmp_path, {"benchmaker.solve": [wrong] * 3}, "s")
    run = start_run(config(tmp_path, n_items=1, generator=generator, solver=solver))
    drive(run)
    (item,) = run.store.items()
    assert item.metadata["conflict"] is True and item.metadata["key_evidence"] == "program+generator"
    assert item.metadata["difficulty"] == 11.0  # every solver wrong: the hardest label
    assert requests_for(run, "judge", "benchmaker.discriminate") == []


# -- the requirement binds every draft ------------------------------------------------------------------


def test_a_question_asking_two_things_is_turned_down_by_its_wording_before_any_program(tmp_path):
    two = question(OPTIONS, "A", text="What is 12 multiplied by 10, and which factor is larger?")
    generator = script(tmp_path, {"benchmaker.generate": [two]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    (rejection,) = run.store.rejections()
    assert (rejection.stage, rejection.reason) == ("check", "asks_several_things")
    assert all(r.attempt != 0 for r in requests_for(run, "generator", PROGRAM))  # no program for it


def verdict(several_things=False, **fields):
    # two things, each in the question's own words (a thing the question never names does not count)
    asked = ["the product when multiplied", "which factor is larger before it is multiplied"]
    asked = asked if several_things else asked[:1]
    base = {"asked": asked, "choices_answer_it": True, "broken_constraints": []}
    return json.dumps({**base, **fields})


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (verdict(several_things=True), "asks_several_things"),
        (verdict(choices_answer_it=False), "choices_do_not_answer"),
        (verdict(broken_constraints=["Two-digit multiplication."]), "breaks_constraint"),
        (verdict(broken_constraints=["Questions must rhyme."]), None),  # a rule the requirement never stated
        ("not json", None),  # no reading: the check is noted as not made, never guessed
    ],
)
def test_the_judges_focused_reading_turns_a_draft_down_with_its_reason(tmp_path, reply, reason):
    judge = script(tmp_path, {"benchmaker.check_draft": [reply] * 6}, "j")  # three readings per attempt
    run = start_run(config(tmp_path, n_items=1, judge=judge))
    drive(run)
    (request, *_) = requests_for(run, "judge", "benchmaker.check_draft")
    assert "Two-digit multiplication." in user_text(request) and "A. " in user_text(request)
    if reason is None:
        (item,) = run.store.items()
        assert "draft_check" in item.metadata
    else:  # both attempts read the same way
        assert {(r.stage, r.reason) for r in run.store.rejections()} == {("check", reason)}
        # The programs had run first: their record stays with the rejection and counts in the summary.
        assert all(r.evidence["program"]["outcome"] == "agree" for r in run.store.rejections())


@pytest.mark.parametrize(("flags", "rejected"), [((True, True, False), True), ((True, False, False), False)])
def test_a_finding_needs_a_majority_of_the_judges_readings(tmp_path, flags, rejected):
    readings = [verdict(several_things=flag) for flag in flags]
    judge = script(tmp_path, {"benchmaker.check_draft": readings}, "j")
    run = start_run(config(tmp_path, n_items=1, judge=judge))
    drive(run)
    (request, *_) = requests_for(run, "judge", "benchmaker.check_draft")
    assert request.n == 3 and request.temperature == 0.7
    first = (run.store.rejections() or [None])[0]
    assert (first is not None and first.attempt == 0 and first.reason == "asks_several_things") == rejected
    if not rejected:
        (item,) = run.store.items()
        assert [len(r["asked"]) > 1 for r in item.metadata["draft_check"]["verdict"]["readings"]] == list(flags)


def test_the_requirements_constraints_reach_every_prompt_that_shapes_a_draft(tmp_path):
    run = start_run(config(tmp_path, n_items=2))
    drive(run)
    saved = attr.load_attributes(run.store.run_dir / ATTRIBUTES_FILE)
    assert saved.demand.constraints == ["Two-digit multiplication."]
    client = run.session.method.models["generator"].client
    while hasattr(client, "inner"):
        client = client.inner
    shaped = [r for r in client.requests if r.prompt_id.endswith("_attributes") or r.prompt_id == "benchmaker.generate"]
    assert len(shaped) >= 4
    assert all("Two-digit multiplication." in user_text(r) for r in shaped)


def test_the_evidence_policy_turns_down_a_key_with_an_unaccepted_level(tmp_path):
    off = {"program": {"mode": "off"}}
    plain = start_run(config(tmp_path / "any", n_items=1, benchmaker=off))
    drive(plain)
    (item,) = plain.store.items()
    assert item.metadata["key_evidence"] == "generator+solvers"  # the solvers' majority is the key
    strict = start_run(config(tmp_path / "strict", n_items=1, benchmaker={**off, "key_evidence": ["judge"]}))
    drive(strict)
    assert {(r.stage, r.reason) for r in strict.store.rejections()} == {("policy", "evidence_not_accepted")}


def test_every_solution_names_options_by_text_so_shuffling_cannot_contradict_the_key(tmp_path):
    reasoning = "12 x 10 = 120, which is option A; option (B) is a slip."
    generator = script(tmp_path, {"benchmaker.generate": [question(OPTIONS, "A", reasoning=reasoning)]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator))
    drive(run)
    (item,) = run.store.items()
    solution = item.metadata["solution"]
    assert solution == '12 x 10 = 120, which is option "120"; option "130" is a slip.'
    assert load_benchmark(run.store.run_dir).items[0].explanation == solution  # what the faithfulness judge sees


def test_transport_artefacts_are_stripped_from_program_sources():
    assert cleaned("```python\nanswer = 1\n```") == "answer = 1"
    assert cleaned("answer = 1") == "answer = 1"
    assert cleaned("x = 2\nprint(x)}") == "x = 2\nprint(x)"  # a JSON brace leaked into the source
    assert cleaned("d = {1: 2}") == "d = {1: 2}"  # a brace the program needs stays
    assert cleaned("print(x))}") == "print(x))}"  # broken either way: left for the sandbox to report


# -- reporting ----------------------------------------------------------------------------------------


def test_quality_checks_show_evidence_levels_program_share_and_agreement(tmp_path):
    generator = script(
        tmp_path, {"benchmaker.generate": [question(OPTIONS, "B", value="130")]}, "g"
    )  # one disagreement the judge resolves, then the fake's own correct questions
    run = start_run(config(tmp_path, n_items=3, generator=generator))
    drive(run)
    checks = program_checks(load_benchmark(run.store.run_dir))
    levels, evidence, agreement = checks["key_evidence"], checks["program_evidence"], checks["program_agreement"]
    assert levels.value == pytest.approx(2 / 3) and set(levels.details["levels"]) == {
        "program+generator",
        "program+judge",
    }
    assert levels.details["levels"]["program+judge"]["items"] == 1
    assert evidence.status == "ok" and evidence.value == 1.0 and evidence.details["with_program_key"] == 3
    assert agreement.value == pytest.approx(2 / 3) and agreement.details["outcomes"]["disagree"] == 1
    off = start_run(config(tmp_path / "off", n_items=1, program={"mode": "off"}))
    drive(off)
    off_checks = program_checks(load_benchmark(off.store.run_dir))
    assert off_checks["program_evidence"].status == "not_computable"
    assert "no answer-key program ran" in off_checks["program_evidence"].reason
    assert off_checks["key_evidence"].details["levels"]["generator+solvers"]["share"] == 1.0


def test_compare_variants_switch_programs_checks_and_the_key_policy(tmp_path):
    base = config(tmp_path)
    assert variant_config(base, "benchmaker-no-program").benchmaker.program.mode == "off"
    assert variant_config(base, "benchmaker").benchmaker.program.mode == "auto"
    assert variant_config(base, "benchmaker-repair").benchmaker.program.repair_options == "confirmed"
    checks = variant_config(base, "benchmaker-no-checks").benchmaker.checks
    assert not checks.single_question and not checks.constraints
    old = variant_config(base, "benchmaker-single-program").benchmaker
    assert (old.program.programs, old.program.generator_value, old.program.temperature) == (1, False, 0.0)
    assert old.program.repair_options == "unconfirmed" and "program" in old.key_evidence
    assert not old.checks.single_question


# -- value first: agreement by construction -------------------------------------------------------------


def stem(text="What is 12 multiplied by 10?", value="120", reasoning="12 x 10 = 120."):
    return json.dumps({"analysis": "Plan.", "question": text, "reasoning": reasoning, "value": value})


VALUE_FIRST = {"program": {"order": "value_first"}}


def test_value_first_builds_the_choices_around_the_programs_value(tmp_path):
    run = start_run(config(tmp_path, n_items=2, benchmaker=VALUE_FIRST))
    summary = drive(run)
    assert summary["accepted"] == 2 and summary["rejected"] == 0
    for item in run.store.items():
        meta = item.metadata
        a, b = item.question.removeprefix("What is ").removesuffix("?").split(" multiplied by ")
        assert item.choices[item.answer_index] == str(int(a) * int(b)) and meta["key_evidence"] == "program+generator"
        assert meta["program"]["outcome"] == "built" and meta["program"]["generator_value_agrees"] is True
    generate = requests_for(run, "generator", "benchmaker.generate")[0]
    assert '"choices"' not in json.dumps(generate.response_schema)  # a stem: no choices written
    (distractors, *_) = requests_for(run, "generator", "benchmaker.distractors")
    assert "Correct answer: " in user_text(distractors) and "Write 5 wrong answers" in user_text(distractors)  # 2 spare


def test_value_first_without_the_generators_value_needs_the_solvers_majority(tmp_path):
    wrong_value = stem(value="130")
    generator = script(tmp_path, {"benchmaker.generate": [wrong_value]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, benchmaker=VALUE_FIRST))
    drive(run)
    (item,) = run.store.items()  # the fake solvers know multiplication: they choose the computed value
    assert item.metadata["key_evidence"] == "program+solvers" and item.choices[item.answer_index] == "120"
    assert "A program computed the answer" in item.metadata["solution"]

    generator = script(tmp_path, {"benchmaker.generate": [wrong_value] * 2}, "g2")
    guessing = json.dumps({"reasoning": "Guess.", "answer": "D"})
    solver = script(tmp_path, {"benchmaker.solve": [guessing] * 6}, "s")
    unconfirmed = start_run(
        config(tmp_path / "u", n_items=1, generator=generator, solver=solver, benchmaker=VALUE_FIRST)
    )
    drive(unconfirmed)
    reasons = {(r.stage, r.reason) for r in unconfirmed.store.rejections()}
    assert ("self_test", "program_unconfirmed") in reasons


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (json.dumps({"distractors": ["130", "120", "140"]}), "distractors_invalid"),  # states the value
        (json.dumps({"distractors": ["130", "100 + 20 = 120", "140"]}), "distractors_invalid"),  # as an equation
        (json.dumps({"distractors": ["130", "130", "140"]}), "distractors_invalid"),  # repeats
        (json.dumps({"distractors": ["130"]}), "distractors_invalid"),  # too few
        ("not json", "distractors_unparsable"),
    ],
)
def test_value_first_turns_down_distractors_that_cannot_be_used(tmp_path, reply, reason):
    generator = script(tmp_path, {"benchmaker.generate": [stem()] * 2, "benchmaker.distractors": [reply] * 9}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, benchmaker=VALUE_FIRST))
    drive(run)
    assert {r.reason for r in run.store.rejections()} == {reason}


def test_value_first_keeps_the_first_usable_distractors_and_says_which_it_left_out(tmp_path):
    reply = json.dumps(
        {
            "distractors": [
                "130", "120.0", "130", "10 * 12 = 120", "", "12 * (10 + y)", "12 tens are 120", "110", "1200", "140",
            ]
        }
    )  # fmt: skip
    generator = script(tmp_path, {"benchmaker.generate": [stem()], "benchmaker.distractors": [reply]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, benchmaker=VALUE_FIRST))
    drive(run)
    (item,) = run.store.items()
    assert sorted(item.choices) == sorted(["120", "130", "110", "1200"])  # "140" was not needed
    assert item.choices[item.answer_index] == "120"
    assert item.metadata["program"]["distractors_left_out"] == [
        "'120.0' states the computed value",
        "'130' repeats another choice",
        "'120' repeats another choice",  # "10 * 12 = 120": an equation counts as its result
        "a blank distractor",
        "'12 * (10 + y)' is an expression, not an answer in the correct one's form",
        "'12 tens are 120' holds more numbers than the correct answer (a working, not an answer)",
    ]


def test_value_first_reads_a_distractor_written_as_an_equation_as_its_result(tmp_path):
    """The README's runs on a fresh clone (2026-11-30): every distractor an equation, then every distractor an
    expression ("7/10 + 5/8"), so none was usable; and a whole-number answer must not make fraction
    distractors look like divisions. An equation is its result, an expression its value."""
    equations = json.dumps({"distractors": ["1/2", "12 * 11 = 132", "12 * 10 = 120", "12 + 11", "2"]})
    generator = script(tmp_path, {"benchmaker.generate": [stem()], "benchmaker.distractors": [equations]}, "g")
    run = start_run(config(tmp_path, n_items=1, generator=generator, benchmaker=VALUE_FIRST))
    drive(run)
    (item,) = run.store.items()
    assert sorted(item.choices) == sorted(["120", "1/2", "132", "23"])  # "12 + 11" has the value 23
    assert item.metadata["program"]["distractors_left_out"] == ["'120' repeats another choice"]


def test_an_expression_distractor_is_its_value_in_the_correct_answers_form():
    from benchmaker.methods.benchmaker.value_first import choose_distractors
    from benchmaker.verification.values import ProgramValue

    value = ProgramValue(kind="float", text="8.55")
    chosen, left_out = choose_distractors(
        ["4.75 - 3.8", "1/3 + 1", "4.75 * 2", "4.75 + 3.8"], "8.55", value, 1e-6, needed=3
    )
    assert chosen == ["0.95", "9.5"]  # 1/3 + 1 has no exact decimal; 4.75 + 3.8 is the answer itself
    assert left_out == [
        "'1/3 + 1' is an expression, not an answer in the correct one's form",
        "'8.55' repeats another choice",
    ]
