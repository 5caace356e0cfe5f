"""End to end on the real embedded model: CLI -> Prefect flow -> llama.cpp server -> benchmark.jsonl."""

import json
from pathlib import Path

import pytest

from benchmaker.items import BenchmarkItem
from tests.conftest import write_config
from tests.test_cli import cli

pytestmark = pytest.mark.local_model


def test_two_items_from_the_local_model_then_a_free_resume(tmp_path):
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
