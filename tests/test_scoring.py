"""Scoring without Prefect: loading, strict answer parsing, the panel, the judges, the assembled report."""

import json

import numpy as np
import pytest

from benchmaker.embeddings import HashingEmbedder
from benchmaker.errors import ConfigError
from benchmaker.prompts import PromptLibrary
from benchmaker.run import start_run
from benchmaker.scoring.benchmarks import BenchmarkLoadError, load_benchmark
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.judge import judge_unit, score_of
from benchmaker.scoring.panel import answer_unit, parse_letter
from benchmaker.scoring.quality import build_report
from benchmaker.scoring.schema import CRITERIA, QualityReport
from benchmaker.scoring.settings import ScoreSettings
from tests.test_generation import config as generation_config
from tests.test_generation import drive


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_answers_by_letter_or_index_and_invalid_items_are_listed(tmp_path):
    path = _jsonl(
        tmp_path / "set.jsonl",
        [
            {"question": "1+1?", "choices": ["1", "2"], "answer": "B"},
            {"question": "2+2?", "choices": ["4", "5", "6"], "answer": 0, "id": "x"},
            {"question": "dup?", "choices": ["a", "a"], "answer": "A"},
            {"question": "range?", "choices": ["a", "b"], "answer": "C"},
        ],
    )
    bench = load_benchmark(path)
    assert [(i.id, i.answer_index) for i in bench.items] == [("set-1", 1), ("x", 0)]
    assert [(s.line, "not unique" in s.reason or "out of range" in s.reason) for s in bench.skipped] == [
        (3, True),
        (4, True),
    ]


def test_malformed_jsonl_is_an_error_naming_the_line(tmp_path):
    with pytest.raises(BenchmarkLoadError, match=r"set.jsonl:2: choices: Field required"):
        load_benchmark(
            _jsonl(
                tmp_path / "set.jsonl",
                [{"question": "q", "choices": ["a", "b"], "answer": 0}, {"question": "q", "answer": 0}],
            )
        )
    with pytest.raises(BenchmarkLoadError, match="expected a run directory"):
        load_benchmark(_touch(tmp_path / "set.txt"))


def _touch(path):
    path.write_text("")
    return path


def test_mmlu_csv_loads_and_its_flawed_item_is_skipped(tmp_path):
    path = tmp_path / "mini_test.csv"
    path.write_text('"Q one?",a,b,c,d,C\n"Q two?",same,other,same,x,A\n')
    bench = load_benchmark(path)
    assert bench.kind == "imported" and bench.items[0].answer == "C"
    assert bench.skipped[0].line == 2 and "not unique" in bench.skipped[0].reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"answer": "B"}', 1),
        ("B", 1),
        ("(c)", 2),
        ('{"answer": "d"}', 3),
        ("The answer is B", None),
        ("B, because 4", None),
        ('{"answer": "E"}', None),
        ('{"answer": "AB"}', None),
        ("", None),
        ('{"letter": "A"}', None),
    ],
)
def test_answer_parsing_is_strict(text, expected):
    assert parse_letter(text, 4) == expected


def test_judge_scores_follow_the_paper():
    assert [score_of("faithfulness", j) for j in (0, 1, 2)] == [0.0, 1.0, 1.0]
    assert [score_of("alignment", j) for j in (0, 1, 2)] == [0.0, 0.5, 1.0]


def _skills(tmp_path):
    names = []
    for skill in (0.95, 0.6, 0.2):
        path = tmp_path / f"skill{skill}.yaml"
        path.write_text(f"skill: {skill}\n")
        names.append(f"scripted:{path}")
    return names


def _score(job):
    settings = job.settings
    panel, judge, meter = job.open_models(None)
    prompts = PromptLibrary()
    for unit in job.panel_units():
        job.record_panel(answer_unit(unit, panel[unit.model], prompts, settings.samples, settings.seed))
    for unit in job.judge_units():
        job.record_judgment(judge_unit(unit, judge, prompts, settings.max_repairs))
    return build_report(job, HashingEmbedder(), usage=meter.snapshot().model_dump())


@pytest.fixture
def generated_run(tmp_path):
    run = start_run(generation_config(tmp_path, requirement={"description": "Multiplication.", "n_items": 24}))
    drive(run)
    return run.store.run_dir


def test_report_scores_generated_and_imported_side_by_side(tmp_path, generated_run):
    imported = _jsonl(
        tmp_path / "human.jsonl",
        [
            {
                "question": f"What is {a} multiplied by {b}?",
                "choices": [str(a * b), str(a * b + 1), str(a + b), "0"],
                "answer": "A",
            }
            for a, b in [(12, 13), (21, 14), (33, 17), (41, 19), (25, 25), (17, 16)]
        ],
    )
    reference = tmp_path / "reference.yaml"
    panel = _skills(tmp_path)
    reference.write_text("\n".join(f"'{name}': {acc}" for name, acc in zip(panel, (0.9, 0.5, 0.3), strict=True)))
    settings = ScoreSettings(
        panel=[{"model": m} for m in panel],
        judge={"model": "scripted"},
        reference=reference,
        outputs_dir=tmp_path / "out",
        embedding_model="hashing",
    )
    report = _score(ScoreJob([generated_run, imported], settings))
    QualityReport.model_validate_json(report.model_dump_json())  # the schema round-trips
    generated, human = report.benchmarks
    assert set(generated.criteria) == set(CRITERIA)
    accuracy = {a.model: a.accuracy for a in generated.panel_accuracy}
    assert accuracy[panel[0]] > accuracy[panel[1]] > accuracy[panel[2]]
    assert generated.criteria["effectiveness"].status == "ok" and generated.criteria["effectiveness"].value > 0.8
    assert generated.criteria["efficiency"].status == "ok"
    assert human.criteria["efficiency"].reason.startswith("not generated by benchmaker")
    assert "--robustness" in generated.criteria["robustness"].reason
    # the scripted judge checks the multiplication keys: every generated key is right
    assert generated.criteria["faithfulness"].details["raw_mean"] == 1.0
    assert report.judge_debiasing["faithfulness"].status == "ok"
    # imported items are judged for alignment against the generated set's requirement
    assert human.criteria["alignment"].status == "ok"
    assert generated.checks["answer_position_balance"].status == "ok"
    assert len(generated.items) == 24 and all(i.panel_error_rate is not None for i in generated.items)


def test_panel_of_one_says_why_instead_of_inventing_numbers(tmp_path, generated_run):
    settings = ScoreSettings(
        panel=[{"model": "scripted"}], judge=None, outputs_dir=tmp_path / "out", embedding_model="hashing"
    )
    quality = _score(ScoreJob([generated_run], settings)).benchmarks[0]
    assert quality.criteria["knowledge_diversity"].status == "not_computable"
    assert "one" in quality.criteria["knowledge_diversity"].reason
    assert quality.criteria["faithfulness"].status == "not_computable"
    assert quality.criteria["effectiveness"].reason.startswith("no reference")
    assert quality.checks["panel_separability"].status == "not_computable"


def test_rerunning_the_same_job_resumes_without_new_answers(tmp_path, generated_run):
    settings = ScoreSettings(
        panel=[{"model": "scripted"}],
        judge={"model": "scripted"},
        outputs_dir=tmp_path / "out",
        embedding_model="hashing",
    )
    first = ScoreJob([generated_run], settings)
    _score(first)
    again = ScoreJob([generated_run], settings)
    assert again.dir == first.dir
    assert again.panel_units() == [] and again.judge_units() == []


def test_duplicate_panel_models_are_rejected(tmp_path, generated_run):
    settings = ScoreSettings(panel=[{"model": "scripted"}, {"model": "scripted"}], outputs_dir=tmp_path)
    with pytest.raises(ConfigError, match="distinct"):
        ScoreJob([generated_run], settings)


def test_identical_items_have_zero_semantic_diversity():
    from benchmaker.scoring.metrics import semantic_diversity

    vectors = HashingEmbedder().embed(["same question"] * 4)
    assert semantic_diversity(vectors, "hashing").value == pytest.approx(0.0)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
