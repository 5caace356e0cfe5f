"""The BenchMaker method's steps as pure functions: prompts, parsing, strategy bank, diversity, verdicts."""

import itertools
import json
import math
import random
from collections import Counter

import pytest
from pydantic import ValidationError

from benchmaker.config import Budget, LLMSettings, ModelSpec, Requirement
from benchmaker.embeddings import HashingEmbedder
from benchmaker.errors import ConfigError, ParseError
from benchmaker.items import MCQ
from benchmaker.llm.factory import build_role_model
from benchmaker.llm.meter import Meter
from benchmaker.llm.scripted import Script, ScriptedLLM
from benchmaker.llm.structured import ReplyInvalid
from benchmaker.methods.benchmaker import attributes as attr
from benchmaker.methods.benchmaker.candidates import (
    candidate_reply_model,
    generate_candidates,
    generation_messages,
    parse_candidate,
)
from benchmaker.methods.benchmaker.demand import DemandAnalysis, analyse_demand
from benchmaker.methods.benchmaker.diffusion import Candidate, choose_references, reference_weight
from benchmaker.methods.benchmaker.discrimination import discriminate
from benchmaker.methods.benchmaker.diversity import NearDuplicateIndex, most_diverse, word_entropy
from benchmaker.methods.benchmaker.self_test import SelfTest, parse_solution
from benchmaker.methods.benchmaker.strategy import StrategyBank
from benchmaker.prompts import default_library

PROMPTS = default_library()
DEMAND = DemandAnalysis(task="Balance redox equations.", question_content="An equation.", answer_choices="Sets.")


def role(responses=None, name="generator"):
    """A role model over a scripted provider; the provider records every request it receives."""
    provider = ScriptedLLM(Script(responses=responses or {}))
    model = build_role_model(
        name,
        ModelSpec(model="scripted"),
        settings=LLMSettings(),
        meter=Meter(Budget()),
        sink=None,
        cache_dir=None,
        provider=provider,
    )
    return model, provider


def user_text(request):
    return "\n".join(m.content for m in request.messages if m.role == "user")


def general(*names):
    return {"attributes": [{"name": n, "values": [f"{n} one", f"{n} two"]} for n in names]}


# -- demand analysis and attributes -------------------------------------------------------------


def test_demand_analysis_prompt_carries_the_requirement_and_reply_is_parsed():
    reply = {
        "task": "Reaction mechanisms.",
        "question_content": "A named reaction.",
        "answer_choices": "Steps.",
        "constraints": [" Mechanisms, first year. ", "", "mechanisms, first year", "Named reactions only."],
    }
    model, provider = role({"benchmaker.demand_analysis": [json.dumps(reply)]})
    requirement = Requirement(description="Organic chemistry mechanisms, first year.", n_items=3, n_options=5)
    result, notes = analyse_demand(model, PROMPTS, requirement, seed=1, max_repairs=0)
    # Only the requirement's own words bind drafts (case and punctuation aside); an invented rule is dropped.
    grounded = ["Mechanisms, first year."]  # the same words twice are one constraint
    assert result == DemandAnalysis(**{**reply, "constraints": grounded})
    assert notes == ["demand analysis: dropped constraint(s) not in the requirement's words: ['Named reactions only.']"]
    [request] = provider.requests
    assert request.prompt_id == "benchmaker.demand_analysis"
    text = user_text(request)
    assert "Organic chemistry mechanisms, first year." in text
    assert "5 options per question" in text and "English" in text


def test_demand_analysis_unparsable_reply_raises_parse_error():
    model, _ = role({"benchmaker.demand_analysis": ['{"task": "only a task"}']})
    with pytest.raises(ParseError, match="question_content"):
        analyse_demand(model, PROMPTS, Requirement(description="x", n_items=1), seed=1, max_repairs=0)


def test_general_proposals_drop_difficulty_and_ask_for_the_minimum():
    reply = general("Topic", " difficulty ", "Setting")
    model, provider = role({"benchmaker.propose_attributes": [json.dumps(reply), json.dumps(general("Style"))]})
    found, failures = attr.propose_general(model, PROMPTS, DEMAND, proposals=2, minimum=1, seed=0, max_repairs=0)
    assert failures == []
    assert [[a.name for a in proposal] for proposal in found] == [["Topic", "Setting"], ["Style"]]
    assert len(provider.requests) == 2
    assert "Balance redox equations." in user_text(provider.requests[0])
    # the proposal prompt asks for min(minimum, 6); the merge asks for the full minimum
    model, provider = role()
    attr.propose_general(model, PROMPTS, DEMAND, proposals=1, minimum=9, seed=0, max_repairs=0)
    assert provider.requests[0].response_schema["properties"]["attributes"]["minItems"] == 6
    assert provider.requests[0].max_tokens == 1500  # attribute lists get a longer reply cap than questions


def test_a_failed_proposal_is_skipped_and_repeated_names_are_merged_with_notes():
    repeated = {"attributes": [{"name": "Topic", "values": ["a"]}, {"name": "topic", "values": ["b", "A"]}]}
    replies = ["not json", json.dumps(repeated), json.dumps(general("Style"))]
    model, _ = role({"benchmaker.propose_attributes": replies})
    found, notes = attr.propose_general(model, PROMPTS, DEMAND, proposals=3, minimum=1, seed=0, max_repairs=0)
    assert [[(a.name, a.values) for a in p] for p in found] == [
        [("Topic", ["a", "b"])],  # one attribute, values united (normalised: "A" is "a")
        [("Style", ["Style one", "Style two"])],
    ]
    assert notes[0].startswith("skipped proposal 0:") and "invalid JSON" in notes[0]
    assert notes[1] == "proposal 1: merged 1 repeated attribute name(s)" and len(notes) == 2


def test_merge_schema_demands_the_configured_minimum():
    too_few = json.dumps(general("A", "B", "C", "D"))
    model, provider = role({"benchmaker.merge_attributes": [too_few, json.dumps(general("A", "B", "C", "D", "E"))]})
    proposals = [[attr.GeneralAttribute(name="Topic", values=["algebra", "geometry"])]]
    with pytest.raises(ParseError, match="at least 5"):
        attr.merge_general(model, PROMPTS, DEMAND, proposals, minimum=5, seed=0, max_repairs=0)
    assert provider.requests[0].response_schema["properties"]["attributes"]["minItems"] == 5
    assert "Topic: algebra | geometry" in user_text(provider.requests[0])
    merged, notes = attr.merge_general(model, PROMPTS, DEMAND, proposals, minimum=5, seed=0, max_repairs=0)
    assert [a.name for a in merged] == ["A", "B", "C", "D", "E"] and notes == []


@pytest.mark.parametrize("reply", [attr.GeneralAttributes, attr.DifficultyAttributes])
def test_attribute_names_and_values_are_bounded_in_the_schema_the_grammar_is_built_from(reply):
    """The local model once wrote 1,500 tokens of prose inside one value's string; llama.cpp builds its grammar
    from the schema, so the bound must be there (and llama-cpp-python must accept the schema)."""
    schema = attr.with_minimum(reply, 3).model_json_schema()
    text = json.dumps(schema)
    assert f'"maxLength": {attr.NAME_CHARS}' in text and f'"maxLength": {attr.VALUE_CHARS}' in text
    with pytest.raises(ValidationError, match="at most 120 characters"):
        attr.GeneralAttribute(name="Topic", values=["x" * 121])
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = grammar.json_schema_to_gbnf(json.dumps(schema))
    assert "char*" not in gbnf  # no string of unbounded length left in the grammar


def test_with_minimum_keeps_the_base_validators():
    strict = attr.with_minimum(attr.GeneralAttributes, 3)
    assert strict.model_json_schema()["properties"]["attributes"]["minItems"] == 3
    with pytest.raises(ValidationError):
        strict.model_validate(general("A", "B"))
    with pytest.raises(ValidationError, match="a value is blank"):
        strict.model_validate({"attributes": [{"name": n, "values": ["x", " "]} for n in "ABC"]})
    assert len(strict.model_validate(general("A", "B", "C")).attributes) == 3


def test_difficulty_levels_are_sorted_easy_to_hard():
    reply = {
        "attributes": [
            {
                "name": "Steps",
                "levels": [
                    {"value": "many", "coefficient": 9},
                    {"value": "one", "coefficient": 1},
                    {"value": "some", "coefficient": 5},
                ],
            }
        ]
    }
    model, provider = role({"benchmaker.difficulty_attributes": [json.dumps(reply)]})
    [steps], notes = attr.propose_difficulty(model, PROMPTS, DEMAND, minimum=1, seed=0, max_repairs=0)
    assert notes == []
    assert [(level.value, level.coefficient) for level in steps.levels] == [("one", 1), ("some", 5), ("many", 9)]
    assert provider.requests[0].response_schema["properties"]["attributes"]["minItems"] == 1


@pytest.mark.parametrize("coefficient", [0, 11])
def test_difficulty_coefficients_outside_1_to_10_are_rejected(coefficient):
    levels = [{"value": "easy", "coefficient": 1}, {"value": "hard", "coefficient": coefficient}]
    reply = json.dumps({"attributes": [{"name": "X", "levels": levels}]})
    model, _ = role({"benchmaker.difficulty_attributes": [reply] * (1 + attr.RUN_LEVEL_RESAMPLES)})
    with pytest.raises(ParseError, match="coefficient"):
        attr.propose_difficulty(model, PROMPTS, DEMAND, minimum=1, seed=0, max_repairs=0)


def test_a_difficulty_reply_that_stays_invalid_is_sampled_again_with_another_seed():
    # The local model's reply for a percentages requirement (2026-11-30): the schema's placeholder as every level.
    placeholder = [{"value": "value", "coefficient": c} for c in (1, 5, 9)]
    bad = json.dumps({"attributes": [{"name": "Steps", "levels": placeholder}]})
    levels = [{"value": "one", "coefficient": 1}, {"value": "three", "coefficient": 6}]
    good = json.dumps({"attributes": [{"name": "Steps", "levels": levels}]})
    model, provider = role({"benchmaker.difficulty_attributes": [bad, good]})
    [steps], _ = attr.propose_difficulty(model, PROMPTS, DEMAND, minimum=1, seed=0, max_repairs=0)
    assert [level.value for level in steps.levels] == ["one", "three"]
    assert [r.seed for r in provider.requests] == [0, attr.RESAMPLE_SEED_STEP]


def test_a_difficulty_reply_invalid_in_every_sample_fails_after_the_resamples():
    placeholder = [{"value": "value", "coefficient": c} for c in (1, 5, 9)]
    bad = json.dumps({"attributes": [{"name": "Steps", "levels": placeholder}]})
    model, provider = role({"benchmaker.difficulty_attributes": [bad] * (1 + attr.RUN_LEVEL_RESAMPLES)})
    with pytest.raises(ParseError, match="not unique"):
        attr.propose_difficulty(model, PROMPTS, DEMAND, minimum=1, seed=0, max_repairs=0)
    assert len(provider.requests) == 1 + attr.RUN_LEVEL_RESAMPLES


def sample_attribute_set():
    return attr.AttributeSet(
        demand=DEMAND,
        general=[attr.GeneralAttribute(name="Setting", values=["lab", "kitchen", "Überall"])],
        difficulty=[
            attr.DifficultyAttribute(
                name="Steps",
                levels=[
                    attr.DifficultyLevel(value="one", coefficient=2),
                    attr.DifficultyLevel(value="six", coefficient=8),
                ],
            )
        ],
    )


def test_attributes_file_round_trip(tmp_path):
    path = tmp_path / "attributes.yaml"
    attr.save_attributes(path, sample_attribute_set())
    assert path.read_text(encoding="utf-8").startswith("# Attributes of this run")
    assert not (tmp_path / "attributes.yaml.tmp").exists()
    assert attr.load_attributes(path) == sample_attribute_set()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["general"][0].update(colour="blue"), "general.0.colour: unknown key"),
        (lambda d: d["difficulty"][0]["levels"][1].update(coefficient=12), "difficulty.0.levels.1.coefficient"),
        (lambda d: d["general"].append({"name": "setting", "values": ["x"]}), "general attribute names are not unique"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
    ],
)
def test_bad_attributes_file_names_the_field(tmp_path, edit, field):
    data = sample_attribute_set().model_dump(mode="json")
    edit(data)
    path = tmp_path / "attributes.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    with pytest.raises(ConfigError) as caught:
        attr.load_attributes(path)
    assert field in str(caught.value) and str(path) in str(caught.value)


def test_unreadable_or_non_mapping_attributes_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read attributes file"):
        attr.load_attributes(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        attr.load_attributes(listing)


# -- candidate generation -------------------------------------------------------------------------

VARIABLES = {
    "requirement": "Two-digit multiplication.",
    "language": "English",
    "task": "Multiply.",
    "question_content": "",
    "answer_choices": "",
    "constraints": [],
    "general_attributes": {"Setting": "market"},
    "strategy": {"Steps": "three"},
    "references": ["What is 2 x 3?\nA. 6\nB. 5\nAnswer: A"],
}


def test_stepwise_generation_prompt_has_the_staged_instructions():
    stepwise = user_text_of(generation_messages(PROMPTS, VARIABLES, 4, stepwise=True))
    for stage in ("1-1.", "1-2.", "1-3.", "1-4.", "1-5."):
        assert stage in stepwise
    assert "- Setting: market" in stepwise and "- Steps: three" in stepwise and "Example 1:" in stepwise
    assert list(candidate_reply_model(4, True).model_json_schema()["properties"])[0] == "analysis"
    assert '"analysis"' in stepwise  # the schema in the prompt asks for it

    plain = user_text_of(generation_messages(PROMPTS, VARIABLES, 4, stepwise=False))
    assert not any(stage in plain for stage in ("1-1.", "1-3.", "1-5."))
    properties = list(candidate_reply_model(4, False).model_json_schema()["properties"])
    assert properties == ["question", "reasoning", "choices", "answer"]
    assert '"analysis"' not in plain


def user_text_of(messages):
    return "\n".join(m.content for m in messages if m.role == "user")


def candidate_json(**overrides):
    data = {"analysis": "a", "question": "q?", "reasoning": "r", "choices": ["1", "2", "3", "4"], "answer": "B"}
    data.update(overrides)
    return json.dumps(data)


def test_parse_candidate_accepts_a_valid_reply():
    candidate = parse_candidate(candidate_json(), 3, 4, stepwise=True)
    assert candidate.index == 3 and candidate.mcq.answer_index == 1 and candidate.analysis == "a"
    assert candidate.mcq.choices == ("1", "2", "3", "4")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"choices": ["1", "1 ", "3", "4"]}, "choices are not unique"),
        ({"choices": ["1", "2", "3"]}, "choices: List should have at least 4 items"),
        ({"choices": ["1", "2", "3", "4", "5"]}, "choices: List should have at most 4 items"),
        ({"answer": "E"}, "answer:"),
        ({"answer": "b"}, "answer:"),
        ({"analysis": ""}, "analysis:"),
        ({"choices": ["A. 1", "B. 2", "C. 3", "D. 4"]}, "their own letter labels"),
    ],
)
def test_parse_candidate_rejects_with_a_reason(overrides, reason):
    with pytest.raises(ReplyInvalid, match=reason):
        parse_candidate(candidate_json(**overrides), 0, 4, stepwise=True)


def test_generate_candidates_parses_each_completion():
    replies = [candidate_json(), "not json", candidate_json(answer="Z")]
    model, provider = role({"benchmaker.generate": replies})
    candidates, failures = generate_candidates(
        model,
        PROMPTS,
        VARIABLES,
        n_options=4,
        stepwise=True,
        n=3,
        temperature=1.0,
        seed=1,
        sample_key="k",
        attempt=0,
    )
    assert len(provider.requests) == 1 and provider.requests[0].n == 3
    assert [c.index for c in candidates] == [0]
    assert [f.split(":")[0] for f in failures] == ["candidate 1", "candidate 2"]


# -- strategy bank -----------------------------------------------------------------------------------


def bank_attributes(coefficients):
    return [
        attr.DifficultyAttribute(
            name=f"attr{i}", levels=[attr.DifficultyLevel(value=f"v{i}.{c}", coefficient=c) for c in levels]
        )
        for i, levels in enumerate(coefficients)
    ]


SMALL = [[1, 5], [2, 3, 9], [1, 4, 7, 10]]


def test_strategy_samples_match_a_brute_force_ranking():
    attributes = bank_attributes(SMALL)
    bank = StrategyBank(attributes)
    coefficient_of = {level.value: level.coefficient for a in attributes for level in a.levels}
    ranked = sorted(1 + sum(combo) for combo in itertools.product(*SMALL))
    total = len(ranked)
    assert bank.total == total == 24
    discarded, upper = total // 2, total - total // 2
    covered = set()
    rng = random.Random(7)
    for bin_index in range(10):
        low = discarded + bin_index * upper // 10
        high = max(discarded + (bin_index + 1) * upper // 10, low + 1)
        assert bank.rank_range(bin_index) == (low, high)
        covered |= set(range(low, high))
        allowed = ranked[low:high]
        for _ in range(200):
            strategy = bank.sample(bin_index, rng)
            assert strategy.bin == bin_index
            assert set(strategy.values) == {"attr0", "attr1", "attr2"}
            assert strategy.score == 1 + sum(coefficient_of[v] for v in strategy.values.values())
            assert min(allowed) <= strategy.score <= max(allowed)
    assert covered == set(range(total // 2, total))  # exactly the harder half


@pytest.mark.parametrize("n_items", [1, 3, 6, 7, 10, 23, 100])
def test_bin_for_is_floor_of_ten_i_over_n(n_items):
    assert [StrategyBank.bin_for(i, n_items) for i in range(n_items)] == [
        math.floor(10 * i / n_items) for i in range(n_items)
    ]


def test_rank_range_rejects_bins_outside_the_bank():
    bank = StrategyBank(bank_attributes(SMALL))
    with pytest.raises(ValueError):
        bank.rank_range(10)
    with pytest.raises(ValueError):
        bank.score_at_rank(bank.total)


def test_a_huge_bank_samples_without_building_the_product():
    bank = StrategyBank(bank_attributes([[1, 3, 5, 7, 9]] * 10))
    assert bank.total == 5**10
    # the bank holds counts per attribute and score, not combinations (timings: scripts/bench_strategy.py)
    assert sum(len(table) for table in bank.ways) < 1000
    rng = random.Random(0)
    strategies = [bank.sample(b, rng) for b in range(10) for _ in range(20)]
    assert all(len(s.values) == 10 for s in strategies)
    # sums are symmetric about 50 and the easier half is discarded: every score is at least 1 + 50
    assert all(s.score >= 51 for s in strategies)
    assert max(s.score for s in strategies if s.bin == 9) > max(s.score for s in strategies if s.bin == 0)


def test_later_bins_are_harder_on_average():
    bank = StrategyBank(bank_attributes([[1, 2, 6], [1, 5, 9, 10], [3, 4], [1, 8]]))
    rng = random.Random(1)
    means = [sum(bank.sample(b, rng).score for _ in range(300)) / 300 for b in range(10)]
    assert all(a <= b for a, b in zip(means, means[1:], strict=False)), means
    assert means[-1] > means[0]


# -- diversity and near duplicates --------------------------------------------------------------------


def test_word_entropy_by_hand():
    assert word_entropy(["a", "a", "b", "c"]) == pytest.approx(1.5)
    assert word_entropy([]) == 0.0


def test_most_diverse_prefers_new_vocabulary():
    references = ["the cat sat"]
    best, scores = most_diverse(["The cat sat.", "dog runs fast"], references)
    assert best == 1
    assert scores == pytest.approx([math.log2(3), math.log2(6)])
    best, _ = most_diverse(["same words", "same words"], [])
    assert best == 0  # the first on ties
    with pytest.raises(ValueError):
        most_diverse([], references)


def test_near_duplicate_index_with_hashing_embedder():
    index = NearDuplicateIndex(HashingEmbedder(), threshold=0.8)
    index.add(["What is the capital city of France and its population?"])
    assert len(index) == 1
    exact, near, unrelated = index.similarity(
        [
            "  WHAT is the capital city of   france and its population?",
            "What is the capital city of France and its total population?",
            "How many legs does a spider have?",
        ]
    )
    assert exact == 1.0
    assert 0.8 <= near < 1.0
    assert unrelated < 0.3
    assert index.duplicates(["what is the capital city of france and its population?", "Spiders?"]) == [1.0, None]


# -- self test-taking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["The answer is B", '{"reasoning": "x", "answer": "E"}', "not json {", '{"answer": "B"}', "B"]
)
def test_parse_solution_is_strict(text):
    assert parse_solution(text, 4) == (None, "")


def test_parse_solution_accepts_the_json_object():
    assert parse_solution('{"reasoning": "2 x 3 = 6", "answer": "C"}', 4) == (2, "2 x 3 = 6")
    assert parse_solution('```json\n{"reasoning": "r", "answer": "E"}\n```', 5) == (4, "r")


def test_self_test_difficulty_counts_parsed_answers_only():
    test = SelfTest(votes=[0, 1, None, 0, None], reasonings=["a", "b", "", "c", ""])
    assert test.parsed == 3
    assert test.accuracy(0) == pytest.approx(2 / 3)
    assert test.difficulty(0) == round(1 + 10 / 3, 4)
    assert test.difficulty(2) == 11.0
    assert SelfTest(votes=[None], reasonings=[""]).difficulty(0) is None


def test_conflict_and_rival():
    assert not SelfTest(votes=[0, 0, 1], reasonings=["a"] * 3).conflicts_with(0)
    assert SelfTest(votes=[0, 1, 1], reasonings=["a"] * 3).conflicts_with(0)  # another option leads
    assert SelfTest(votes=[0, 1], reasonings=["a"] * 2).conflicts_with(0)  # a tie with the key
    assert not SelfTest(votes=[None, None], reasonings=["", ""]).conflicts_with(0)
    # trigger "any": one dissenting solver is enough; unanimity (unparsable replies aside) is not a conflict
    assert SelfTest(votes=[0, 0, 1], reasonings=["a"] * 3).conflicts_with(0, "any")
    assert not SelfTest(votes=[0, None, 0], reasonings=["a", "", "a"]).conflicts_with(0, "any")
    test = SelfTest(votes=[2, 1, 2, 0, 0, 0, 3, None], reasonings=["r2", "r1", "r2b", "k", "k", "k", "r3", ""])
    assert test.rival(0) == 2 and test.reasoning_for(2) == "r2"
    assert SelfTest(votes=[3, 1, 0], reasonings=["x"] * 3).rival(0) == 1  # lowest option on ties
    assert SelfTest(votes=[0, 0], reasonings=["x"] * 2).rival(0) is None
    assert Counter(test.counts()) == Counter({0: 3, 2: 2, 1: 1, 3: 1})


# -- contrastive discrimination ---------------------------------------------------------------------

MCQ_ITEM = MCQ(question="Which is prime?", choices=("4", "6", "7", "9"), answer_index=0)


def verdict(score, label):
    return json.dumps({"analysis": "checked", "score": score, "label": label})


def run_discrimination(replies, max_repairs=0):
    judge, provider = role({"benchmaker.discriminate": replies}, name="judge")
    result = discriminate(
        judge,
        PROMPTS,
        MCQ_ITEM,
        key_solution="KEY SOLUTION says 4",
        rival_solution="RIVAL SOLUTION says 7",
        temperature=0.0,
        seed=1,
        sample_key="d",
        attempt=0,
        max_repairs=max_repairs,
    )
    return result, provider


def test_discrimination_swaps_positions_and_relabels_on_agreement():
    result, provider = run_discrimination([verdict(2, "C"), verdict(2, "C")])
    assert len(provider.requests) == 2
    first, second = (user_text(r) for r in provider.requests)
    assert first != second
    assert first.index("RIVAL SOLUTION") < first.index("KEY SOLUTION")
    assert second.index("KEY SOLUTION") < second.index("RIVAL SOLUTION")
    assert "Solution 1:\nRIVAL SOLUTION" in first and "Solution 2:\nKEY SOLUTION" in first
    assert "Solution 1:\nKEY SOLUTION" in second and "Solution 2:\nRIVAL SOLUTION" in second
    assert result.accepted and result.label == 2 and result.reason == ""
    assert [v["order"] for v in result.verdicts] == ["rival_first", "key_first"]


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        ([verdict(2, "C"), verdict(1, "C")], "judge_flawed_question"),
        ([verdict(0, "none"), verdict(2, "C")], "judge_flawed_question"),
        ([verdict(2, "none"), verdict(2, "none")], "judge_no_single_option"),
        ([verdict(2, "C"), verdict(2, "A")], "judge_inconsistent_on_swap"),
    ],
)
def test_discrimination_rejects(replies, reason):
    result, provider = run_discrimination(replies)
    assert len(provider.requests) == 2
    assert not result.accepted and result.reason == reason and result.label is None


def test_discrimination_rejects_an_unparsable_verdict():
    result, provider = run_discrimination(["no verdict here", verdict(2, "C")])
    assert result.reason == "judge_unparsable" and result.label is None and not result.accepted
    assert len(provider.requests) == 1  # no point asking the swapped order
    result, _ = run_discrimination([verdict(2, "C"), verdict(2, "E")])  # E is not one of 4 options
    assert result.reason == "judge_unparsable"


# -- difficulty diffusion --------------------------------------------------------------------------


def pool(difficulties):
    return [Candidate(item_id=f"q{i}", difficulty=d, order=i) for i, d in enumerate(difficulties)]


def draws(candidates, uses, k, times=300):
    chosen = [choose_references(candidates, Counter(uses), k, random.Random(seed)) for seed in range(times)]
    assert all(len(c) == min(k, len(candidates)) and len(set(c)) == len(c) for c in chosen)
    return set().union(*chosen)


def test_reference_weight_decays_with_use():
    assert reference_weight(5.0, 0, 4) == 5.0
    assert reference_weight(5.0, 3, 2) == pytest.approx(5.0 * 0.9**6)


def test_references_come_from_the_2k_heaviest():
    candidates = pool([10, 9, 8, 7, 2, 1])
    assert draws(candidates, {}, k=2) == {"q0", "q1", "q2", "q3"}
    # ties in weight: the earlier accepted item ranks first
    assert draws(pool([3, 3, 3, 3, 3]), {}, k=1) == {"q0", "q1"}
    assert draws(pool([4, 1]), {}, k=3) == {"q0", "q1"}


def test_heavily_used_items_drop_out_of_the_pool():
    candidates = pool([10, 9, 8, 7, 2, 1])
    # 10 x 0.9^(4*10/2) = 1.2 < 2: q0 falls below q4
    assert draws(candidates, {"q0": 10}, k=2) == {"q1", "q2", "q3", "q4"}
    # light use keeps it: 10 x 0.9^2 = 8.1
    assert "q0" in draws(candidates, {"q0": 1}, k=2)


def test_repeated_difficulty_attributes_keep_the_first_and_say_so():
    levels = [{"value": "easy", "coefficient": 1}, {"value": "hard", "coefficient": 9}]
    other = [{"value": "low", "coefficient": 2}, {"value": "high", "coefficient": 7}]
    reply = {
        "attributes": [
            {"name": "Steps", "levels": levels},
            {"name": "steps ", "levels": other},
            {"name": "Noise", "levels": other},
        ]
    }
    model, _ = role({"benchmaker.difficulty_attributes": [json.dumps(reply)]})
    kept, notes = attr.propose_difficulty(model, PROMPTS, DEMAND, minimum=1, seed=0, max_repairs=0)
    assert [(a.name, a.levels[-1].value) for a in kept] == [("Steps", "hard"), ("Noise", "high")]
    assert notes == ["difficulty attributes: dropped 1 repeated attribute name(s)"]
