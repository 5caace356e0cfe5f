"""Adaptive self test-taking: the solver's answers in rounds, stopping once more cannot change the outcome."""

import pytest

from benchmaker.config import SolverSampling, parse_config
from benchmaker.methods.benchmaker.adaptive import label_bin, schedule, settled
from benchmaker.run import start_run
from tests.conftest import drive

ADAPTIVE = SolverSampling(mode="adaptive", first=4, step=3, confidence=0.95)


def test_rounds_and_bins():
    assert schedule(ADAPTIVE, 10) == [4, 3, 3]
    assert schedule(ADAPTIVE, 3) == [3]
    assert schedule(SolverSampling(mode="adaptive"), 10) == [5, 5]  # the defaults: one more round trip at most
    assert schedule(SolverSampling(mode="adaptive", first=5, step=5), 12) == [5, 5, 2]
    edges = ADAPTIVE.bin_edges
    assert [label_bin(x, edges) for x in (1.0, 3.0, 3.5, 7.0, 7.01, 11.0)] == [0, 0, 1, 1, 2, 2]
    assert label_bin(None, edges) is None


def test_bin_edges_must_ascend_inside_the_label_range():
    with pytest.raises(ValueError, match="ascending"):
        SolverSampling(bin_edges=(7.0, 3.0))
    with pytest.raises(ValueError, match="between 1 and 11"):
        SolverSampling(bin_edges=(0.5,))


KEY, RIVAL = 0, 2


def test_settled_when_no_remaining_answer_can_change_the_outcome():
    assert settled([KEY] * 4, KEY, 4, 0, "majority", ADAPTIVE)
    # 9 for the key, one to come: whatever it is, no conflict, the key leads, the label stays <= 2 (easy)
    assert settled([KEY] * 9, KEY, 4, 1, "majority", ADAPTIVE)


def test_not_settled_while_the_answers_are_split_or_unreadable():
    assert not settled([KEY, RIVAL, KEY, RIVAL], KEY, 4, 6, "majority", ADAPTIVE)
    assert not settled([None] * 4, KEY, 4, 6, "majority", ADAPTIVE)
    # four of four for the key: six more could still pull the label out of the easy bin (3 wrong of 10)
    assert not settled([KEY] * 4, KEY, 4, 6, "majority", ADAPTIVE)


def test_a_clear_conflict_is_settled_early():
    # four of four for a rival: the key would need 4 of the next 6 to leave the hard bin, 5 to lead
    assert settled([RIVAL] * 4, KEY, 4, 6, "majority", ADAPTIVE)


def test_under_the_trigger_any_one_dissent_settles_the_conflict_but_not_the_bin():
    # a conflict from the 4th answer on; 6 of 7 right is easy (label 2.4), 6 of 9 parsed would be medium
    assert not settled([KEY, KEY, KEY, RIVAL, KEY, KEY, KEY], KEY, 4, 3, "any", ADAPTIVE)
    # 8 of 9 right: the last answer leaves at worst 8 of 10 (label 3.0, still easy)
    assert settled([KEY] * 3 + [RIVAL] + [KEY] * 5, KEY, 4, 1, "any", ADAPTIVE)


def run(tmp_path, name, sampling):
    config = parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 3, "n_options": 4},
            "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
            "outputs_dir": str(tmp_path / name),
            "seed": 4,
            "benchmaker": {
                "embedder": "hashing",
                "references": 2,
                "program": {"mode": "off"},
                "checks": {"single_question": False, "constraints": False},
                "solver_sampling": sampling,
            },
        }
    )
    started = start_run(config)
    drive(started)
    return started.store


def test_adaptive_runs_record_the_rule_and_where_it_stopped(tmp_path):
    store = run(tmp_path, "adaptive", {"mode": "adaptive", "first": 4, "step": 3, "confidence": 0.95})
    items = store.items()
    assert len(items) == 3
    solves = [c for c in store.calls() if c.prompt_id == "benchmaker.solve"]
    for item in items:
        record = item.metadata["solver_sampling"]
        # the scripted solver is always right: 4 right answers leave room for 3 wrong of 10; after 7 right
        # only 3 wrong (or 2 wrong and an unparsable one) in the last 3 would leave the easy bin: about 2%
        assert record == {
            "rule": "adaptive", "confidence": 0.95, "bin_edges": [3.0, 7.0], "rounds": [4, 3, 3],
            "stopped_at": 7, "of": 10,
        }  # fmt: skip
        assert len(item.metadata["solver_answers"]) == 7 and item.metadata["difficulty"] == 1.0
        mine = [c for c in solves if c.attempt == item.metadata["attempt"]]
        assert sorted(c.n for c in mine) == [3, 4] and len({c.request_hash for c in mine}) == 2


def test_fixed_sampling_is_the_papers_single_request(tmp_path):
    store = run(tmp_path, "fixed", {"mode": "fixed"})
    for item in store.items():
        assert "solver_sampling" not in item.metadata and len(item.metadata["solver_answers"]) == 10
    assert {c.n for c in store.calls() if c.prompt_id == "benchmaker.solve"} == {10}
