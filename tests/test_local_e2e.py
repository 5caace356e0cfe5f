"""End to end on the real embedded model: CLI -> Prefect flow -> llama.cpp server -> benchmark.jsonl."""

import json
from pathlib import Path

import pytest

from benchmaker.items import BenchmarkItem
from benchmaker.scoring.schema import QualityReport
from tests.conftest import REPO, write_config
from tests.test_cli import cli

pytestmark = pytest.mark.local_model


def test_two_items_from_the_local_model_then_a_free_resume_then_a_report(tmp_path):
    local = {"model": "local", "max_tokens": 320}
    config = write_config(
        tmp_path,
        requirement={"description": "Simple arithmetic word problems for primary school.", "n_items": 2},
        models={"generator": local, "solver": local, "judge": local, "panel": [local]},
        generation={"max_attempts_per_item": 4},
    )
    result = cli("run", str(config), "--quiet", timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])

    items = [BenchmarkItem.model_validate_json(line) for line in (run_dir / "benchmark.jsonl").read_text().splitlines()]
    assert len(items) == 2
    for item in items:
        assert len(item.choices) == 4 and item.metadata["generator"] == "local"
    calls = [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines()]
    assert calls and all(c["model"] == "local" and not c["cached"] for c in calls)
    assert all(c["output_tokens"] > 0 for c in calls)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "llama_cpp_python" in manifest["versions"]

    resumed = cli("run", "--resume", str(run_dir), "--quiet", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert len((run_dir / "llm_calls.jsonl").read_text().splitlines()) == len(calls)

    # The same run scored on the real model (panel and judge) beside two human-made MMLU items.
    mmlu = REPO.parent / "shared" / "data" / "mmlu-test" / "elementary_mathematics_test.csv"
    human = tmp_path / "human.jsonl"
    if mmlu.exists():
        from benchmaker.scoring.benchmarks import load_benchmark

        items = load_benchmark(mmlu, limit=2).items
        human.write_text(
            "".join(
                json.dumps({"question": i.question, "choices": list(i.choices), "answer": i.answer}) + "\n"
                for i in items
            )
        )
    else:  # CI's clone sits beside shared/; elsewhere use two hand-made items
        human.write_text(
            '{"question": "What is 7 x 8?", "choices": ["54", "56", "58", "64"], "answer": "B"}\n'
            '{"question": "What is 9 + 16?", "choices": ["25", "24", "26", "35"], "answer": 0}\n'
        )
    scored = cli("score", str(run_dir), str(human), "--outputs-dir", str(tmp_path / "outputs"), "--quiet", timeout=1800)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    report = Path(scored.stdout.strip().splitlines()[-1])
    quality = QualityReport.model_validate_json((report.parent / "quality.json").read_text())
    assert quality.panel == ["local"] and quality.judge == "local"
    assert [b.kind for b in quality.benchmarks] == ["generated", "imported"]
    for bench in quality.benchmarks:
        assert bench.panel_accuracy[0].n_items == 2
        assert bench.criteria["knowledge_diversity"].status == "not_computable"  # a panel of one
    assert "<html" in report.read_text()[:500].lower()
