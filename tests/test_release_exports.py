"""The exports of a release made from a real (scripted) run, loaded by the real consumers, offline.

lm-evaluation-harness runs the task YAMLs with its ``dummy`` model from another working directory;
Inspect runs the task file with a mock model that answers from the released keys; ``datasets`` loads
the folder by its card; our own loader reads the MMLU-style CSV back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmaker.config import load_config
from benchmaker.prompts import PromptLibrary
from benchmaker.releases.build import ReleaseRequest, create_release
from benchmaker.releases.exports.common import COLUMNS, task_identifier
from benchmaker.releases.settings import ReleaseSettings
from benchmaker.releases.store import ReleaseStore
from benchmaker.run import start_run
from benchmaker.scoring.benchmarks import load_benchmark
from tests.conftest import drive, write_config

pytestmark = pytest.mark.slow

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """v1 of a release made from a BenchMaker-method run on the scripted model (program-backed keys)."""
    tmp = tmp_path_factory.mktemp("export")
    config = load_config(
        write_config(
            tmp,
            method="benchmaker",
            seed=7,
            requirement={"description": "Two-digit multiplication.", "n_items": 6, "n_options": 4},
            benchmaker={"embedder": "hashing", "candidates": 2, "solver_samples": 2, "attribute_proposals": 1},
        )
    )
    run = start_run(config)
    drive(run)
    settings = ReleaseSettings.model_validate({"dedup": {"embedder": "hashing"}, "license": "cc-by-4.0"})
    outcome = create_release(
        ReleaseRequest(name="mult-export", run_dirs=[run.store.run_dir], settings=settings, outputs_dir=tmp / "outputs")
    )
    assert outcome.published
    store = ReleaseStore(tmp / "outputs", "mult-export")
    items = store.items(1)
    assert len(items) == 6 and all(i.metadata.get("key_evidence") == "program+generator" for i in items)
    return tmp, outcome.path, items


def test_lm_eval_runs_both_tasks_from_another_directory(released, tmp_path):
    _, version_dir, items = released
    task = task_identifier("mult-export", 1)
    out = tmp_path / "lm_eval_out"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    command = [
        str(Path(sys.executable).parent / "lm_eval"),
        "--model", "dummy",
        "--tasks", f"{task},{task}_mmlu",
        "--include_path", str(version_dir / "exports" / "lm_eval"),
        "--output_path", str(out),
        "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, **OFFLINE, "HF_DATASETS_CACHE": str(tmp_path / "hf_cache")}
    result = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert set(results["results"][task]) >= {"acc,none", "acc_norm,none"}
    assert "acc,none" in results["results"][f"{task}_mmlu"]
    assert results["n-samples"][task]["effective"] == results["n-samples"][f"{task}_mmlu"]["effective"] == len(items)
    by_id = {item.id: item for item in items}
    (cloze,) = out.rglob(f"samples_{task}_2*.jsonl")
    (lettered,) = out.rglob(f"samples_{task}_mmlu_*.jsonl")
    for line in cloze.read_text().splitlines():
        sample = json.loads(line)
        item = by_id[sample["doc"]["id"]]
        assert int(sample["target"]) == item.answer_index
        continuations = [arg["arg_1"] for arg in sample["arguments"].values()]
        assert continuations == [f" {choice}" for choice in item.choices]
    for line in lettered.read_text().splitlines():
        sample = json.loads(line)
        item = by_id[sample["doc"]["id"]]
        assert int(sample["target"]) == item.answer_index
        prompt = sample["arguments"]["gen_args_0"]["arg_0"]
        assert prompt == item.question + "\n" + "".join(f"{'ABCD'[i]}. {c}\n" for i, c in enumerate(item.choices)) + (
            "Answer:"
        )
        assert [arg["arg_1"] for arg in sample["arguments"].values()] == [" A", " B", " C", " D"]


def _mock_model(answer):  # noqa: ANN001, ANN202
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def generate(messages, tools, tool_choice, config):  # noqa: ANN001, ANN202 - Inspect's mockllm signature
        output = ModelOutput.from_content(model="mockllm", content=f"ANSWER: {answer(messages[-1].text)}")
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # offline: no tokenizer download
        return output

    return get_model("mockllm/model", custom_outputs=generate)


def test_inspect_runs_the_task_and_scores_the_released_keys(released, tmp_path, monkeypatch):
    from inspect_ai import eval as inspect_eval

    _, version_dir, items = released
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    # Inspect resolves a task file relative to the working directory (an absolute path fails on Python 3.11).
    monkeypatch.chdir(version_dir / "exports" / "inspect")
    task_file = f"{task_identifier('mult-export', 1)}.py"

    def oracle(prompt: str) -> str:
        """Finds the item by its question and answers the letter its released key has in the prompt."""
        item = next(i for i in items if i.question in prompt)
        return re.search(rf"^([A-J])\) {re.escape(item.choices[item.answer_index])}$", prompt, re.M).group(1)

    (log,) = inspect_eval(task_file, model=_mock_model(oracle), log_dir=str(tmp_path / "logs"), display="none")
    assert log.status == "success"
    assert log.results.scores[0].metrics["accuracy"].value == 1.0
    assert {s.id: s.target for s in log.samples} == {i.id: i.answer for i in items}
    assert all(s.metadata["version"] == 1 and s.metadata["anchor"] is False for s in log.samples)

    (log_a,) = inspect_eval(task_file, model=_mock_model(lambda _: "A"), log_dir=str(tmp_path / "logs"), display="none")
    assert log_a.status == "success"
    expected = sum(item.answer == "A" for item in items) / len(items)
    assert log_a.results.scores[0].metrics["accuracy"].value == pytest.approx(expected)


def test_datasets_loads_the_folder_with_mmlu_columns_and_typed_metadata(released, tmp_path, monkeypatch):
    import datasets
    import yaml

    _, version_dir, items = released
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    folder = version_dir / "exports" / "hf"
    dataset = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert list(dataset) == ["test"]
    test = dataset["test"]
    assert test.column_names == [name for name, _ in COLUMNS]
    assert test.features["answer"].dtype == "int64" and test.features["anchor"].dtype == "bool"
    assert test.features["difficulty"].dtype == "float64" and test.features["key_evidence"].dtype == "string"
    rows = {row["id"]: row for row in test}
    assert set(rows) == {item.id for item in items}
    for item in items:
        row = rows[item.id]
        assert (row["question"], row["choices"], row["answer"]) == (item.question, item.choices, item.answer_index)
        assert row["subject"] == "mult-export" and row["key_evidence"] == "program+generator" and row["version"] == 1
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["task_categories"] == ["multiple-choice", "question-answering"]
    assert header["task_ids"] == ["multiple-choice-qa"]
    assert header["license"] == "cc-by-4.0" and header["language"] == ["en"]
    body = card.split("---", 2)[2]
    generate_ref = PromptLibrary().get("benchmaker.generate").ref  # the card names the prompt versions used
    assert "## Provenance" in body and generate_ref in body and "## Gates" in body


def test_mmlu_csv_reads_back_as_the_same_items(released):
    _, version_dir, items = released
    loaded = load_benchmark(version_dir / "exports" / "mmlu" / "mult-export_test.csv")
    assert loaded.skipped == ()
    assert [(i.question, i.choices, i.answer_index) for i in loaded.items] == [
        (i.question, tuple(i.choices), i.answer_index) for i in items
    ]
