"""A small run directory written by hand for the review tests: items with evidence, one with hostile text."""

from __future__ import annotations

import json
from pathlib import Path

from benchmaker.items import MCQ, BenchmarkItem

HOSTILE_QUESTION = "<script>window.pwned = 1</script>Which of these numbers is prime? {{ 7 * 7 }}"
HOSTILE_OPTION = '<img src=x onerror="window.pwned = 2">'


def _item(question: str, choices: list[str], key: int, **metadata: object) -> BenchmarkItem:
    mcq = MCQ(question=question, choices=tuple(choices), answer_index=key)
    return BenchmarkItem(
        id=mcq.content_id(),
        question=question,
        choices=choices,
        answer=mcq.answer_letter,
        answer_index=key,
        metadata={"method": "benchmaker", "generator": "scripted", **metadata},
    )


def review_items() -> list[BenchmarkItem]:
    program = {
        "requested": 3,
        "skipped": 1,
        "programs": [
            {"tries": [{"program": "answer = 6 * 7", "run": {"ok": True, "value": {"kind": "integer", "text": "42"}}}]},
            {"tries": [{"program": "answer = 7 * 6", "run": {"ok": True, "value": {"kind": "integer", "text": "42"}}}]},
        ],
        "clusters": [{"value": {"kind": "integer", "text": "42"}, "programs": [0, 1]}],
        "value": {"kind": "integer", "text": "42"},
        "outcome": "agree",
        "match": {"how": "number"},
        "generator_value_agrees": True,
    }
    return [
        _item(
            "What is 6 x 7?",
            ["42", "48", "36", "49"],
            0,
            key_evidence="program+generator",
            program=program,
            program_option=["A"],
            generator_key=["A"],
            generator_value="42",
            solver_answers=["A", "A", "B"],
            difficulty=4.3,
            solution="6 x 7 = 42.",
        ),
        _item(
            "What is 9 x 8?",
            ["72", "81", "64", "70"],
            1,
            key_evidence="judge",
            solver_answers=["A", "A", "B"],
            conflict=True,
            discrimination=[
                {"order": "rival_first", "score": 2, "analysis": "9 x 9 is 81, so B."},
                {"order": "key_first", "score": 2, "analysis": "B follows from 9 x 9."},
            ],
            judge_labels=["B", "B"],
            difficulty=7.6,
            solution="9 x 9 = 81.",
        ),
        _item(
            HOSTILE_QUESTION,
            [HOSTILE_OPTION, "4", "6", "9"],
            0,
            key_evidence="generator+solvers",
            solver_answers=["A", "A", "A"],
            difficulty=1.0,
            solution="</pre><script>window.pwned = 3</script>",
        ),
        _item("What is 3 x 4?", ["12", "7", "1", "34"], 0, key_evidence="generator", difficulty=1.0),
        _item("What is 5 x 5?", ["10", "25", "55", "20"], 1, key_evidence="generator", difficulty=1.0),
        _item("What is 2 x 9?", ["11", "29", "18", "16"], 2, key_evidence="generator", difficulty=1.0),
    ]


def make_review_run(outputs: Path, name: str = "20260101T000000Z_multiplication_abc123") -> Path:
    """A finished run under ``outputs/runs/`` with :func:`review_items` and one rejection."""
    run_dir = outputs / "runs" / name
    run_dir.mkdir(parents=True)
    manifest = {
        "run_id": name,
        "status": "complete",
        "config_hash": "abc123abc123",
        "config": {
            "method": "benchmaker",
            "seed": 1,
            "requirement": {"description": "Two-digit multiplication.", "n_options": 4, "language": "English"},
            "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
        },
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with (run_dir / "benchmark.jsonl").open("w", encoding="utf-8") as handle:
        for item in review_items():
            handle.write(item.model_dump_json() + "\n")
    rejection = {
        "attempt": 9,
        "stage": "self_test",
        "reason": "program_unconfirmed",
        "detail": "<b>not bold</b>",
        "draft": {"question": "What is 1 x 1?", "choices": ["1", "2", "3", "4"], "answer_index": 1},
        "evidence": {"program": {"outcome": "agree"}},
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    (run_dir / "rejections.jsonl").write_text(json.dumps(rejection) + "\n", encoding="utf-8")
    return run_dir
