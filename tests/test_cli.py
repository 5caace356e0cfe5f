"""The command line: one-line errors for bad configs, and real runs through the Prefect flow."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from benchmaker.cli import app
from tests.conftest import REPO, write_config

runner = CliRunner()


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmaker.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ},
    )


@pytest.mark.parametrize(
    ("requirement", "extra", "field"),
    [
        ({"description": "x", "n_items": 2}, {"surprise": 1}, "surprise: unknown key"),
        ({"description": "", "n_items": 2}, {}, "requirement.description"),
        ({"description": "x", "n_items": 2, "n_options": 1}, {}, "requirement.n_options"),
        ({"description": "x", "n_items": 0}, {}, "requirement.n_items"),
        ({"description": "x", "n_items": 2}, {"models": {"grader": "local"}}, "models.grader: unknown key"),
    ],
)
def test_bad_configs_fail_in_one_line_without_traceback(tmp_path, requirement, extra, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"requirement": requirement, **extra}))
    for command in (["validate", str(path)], ["run", str(path), "--quiet"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: invalid config") and field in lines[0]
        assert "Traceback" not in result.output


def test_validate_accepts_the_examples():
    for path in sorted((REPO / "examples").glob("*.yaml")):
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0 and result.stdout.startswith("ok:"), result.output


def test_flags_are_validated_too():
    result = runner.invoke(app, ["run", "--requirement", "x", "--n", "0", "-q"])
    assert result.exit_code == 2 and "requirement.n_items" in result.stderr
    result = runner.invoke(app, ["run", "-q"])
    assert result.exit_code == 2 and "--requirement" in result.stderr


def test_resume_refuses_new_config_flags(tmp_path):
    result = runner.invoke(app, ["run", "--resume", str(tmp_path), "--n", "3"])
    assert result.exit_code == 2 and "own stored config" in result.stderr


def _items(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "benchmark.jsonl").read_text().splitlines()]


def _calls(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines()]


@pytest.mark.prefect
def test_run_then_resume_makes_no_new_calls(tmp_path):
    config = write_config(tmp_path)
    first = cli("run", str(config), "--quiet")
    assert first.returncode == 0, first.stderr
    run_dir = Path(first.stdout.strip().splitlines()[-1])
    assert len(_items(run_dir)) == 4
    assert "answer letters" in first.stdout
    # the estimate before the run: 4 items at the stated 90% acceptance of the direct method, one call each
    assert "estimate: ~4 calls" in first.stderr and "$0.0000" in first.stderr, first.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["stages"]["generate"]["status"] == "complete"
    assert manifest["prompt_versions"]["direct.generate_mcq"].startswith("direct.generate_mcq@1#")
    calls_before = len(_calls(run_dir))

    again = cli("run", "--resume", str(run_dir), "--quiet")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == str(run_dir)
    assert len(_calls(run_dir)) == calls_before
    assert len(_items(run_dir)) == 4


@pytest.mark.prefect
def test_sigkill_mid_generation_then_resume_loses_and_duplicates_nothing(tmp_path):
    script = tmp_path / "slow.yaml"
    script.write_text("delay_s: 0.4\n")
    config = write_config(
        tmp_path,
        requirement={"description": "Slow multiplication.", "n_items": 12},
        models={"generator": f"scripted:{script}"},
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmaker.cli", "run", str(config), "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runs = tmp_path / "outputs" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(runs.glob("*/benchmark.jsonl")) if runs.exists() else []
        if found and len(found[0].read_text().splitlines()) >= 4:
            break
        time.sleep(0.1)
    # the whole process group: the run and the temporary Prefect server it started
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    run_dir = found[0].parent
    done_before = len(_items(run_dir))
    assert 4 <= done_before < 12, "the kill must land mid-generation"
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"

    resumed = cli("run", "--resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    items = _items(run_dir)
    assert len(items) == 12
    assert len({item["id"] for item in items}) == 12
    assert sorted(item["metadata"]["attempt"] for item in items) == list(range(12))
    paid = [call["request_hash"] for call in _calls(run_dir) if not call["cached"]]
    assert len(paid) == len(set(paid)), "no finished call is paid twice"


@pytest.mark.prefect
def test_score_command_writes_a_report_for_generated_and_imported_sets(tmp_path):
    first = cli("run", str(write_config(tmp_path)), "--quiet")
    run_dir = first.stdout.strip().splitlines()[-1]
    human = tmp_path / "human.jsonl"
    human.write_text(
        "\n".join(
            json.dumps(
                {"question": f"What is {a} multiplied by 3?", "choices": [str(3 * a), str(3 * a + 1)], "answer": 0}
            )
            for a in range(11, 17)
        )
        + "\n"
    )
    strong, weak = tmp_path / "strong.yaml", tmp_path / "weak.yaml"
    strong.write_text("skill: 0.9\n")
    weak.write_text("skill: 0.2\n")
    result = cli(
        "score",
        run_dir,
        str(human),
        "--panel",
        f"scripted:{strong},scripted:{weak},scripted",
        "--judge",
        "scripted",
        "--embedding-model",
        "hashing",
        "--robustness",
        "--outputs-dir",
        str(tmp_path / "outputs"),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    report = Path(result.stdout.strip().splitlines()[-1])
    assert report.name == "report.html" and report.exists()
    from benchmaker.scoring.schema import QualityReport

    quality = QualityReport.model_validate_json((report.parent / "quality.json").read_text())
    assert json.loads((report.parent / "quality.schema.json").read_text())["title"] == "QualityReport"
    assert [b.kind for b in quality.benchmarks] == ["generated", "imported"]
    robustness = quality.benchmarks[0].criteria["robustness"]
    assert robustness.status == "ok" and robustness.details["rewritten_requirement"].startswith("Put differently")
    assert "Traceback" not in result.stderr


@pytest.mark.prefect
def test_compare_runs_each_method_and_writes_them_side_by_side(tmp_path):
    config = write_config(tmp_path, benchmaker={"embedder": "hashing", "candidates": 2, "solver_samples": 3})
    result = cli(
        "compare", str(config), "--methods", "direct,benchmaker,benchmaker-no-diversity,benchmaker-no-program",
        "--check", "arithmetic", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    directory = Path(result.stdout.strip().splitlines()[-1])
    comparison = json.loads((directory / "comparison.json").read_text())
    rows = {row["label"]: row for row in comparison["rows"]}
    assert list(rows) == ["direct", "benchmaker", "benchmaker-no-diversity", "benchmaker-no-program"]
    assert [row["method"] for row in rows.values()] == ["direct", "benchmaker", "benchmaker", "benchmaker"]
    for row in rows.values():
        assert row["accepted"] == 4 and row["status"] == "complete"
        # the scripted generator writes correct multiplication keys; the checker computes them itself
        assert row["key_check"] == {"correct": 4, "wrong": 0, "unchecked": 0, "correct_share": 1.0}
    # the full method pays for attributes, candidates and self test-taking; direct is one call per item
    assert rows["direct"]["per_item"]["requests"] == 1.0
    assert rows["benchmaker"]["per_item"]["completions"] > rows["direct"]["per_item"]["completions"]
    assert rows["benchmaker"]["difficulty"]["labelled"] == 4 and rows["direct"]["difficulty"]["labelled"] == 0
    ablated = json.loads((Path(rows["benchmaker-no-diversity"]["run_dir"]) / "manifest.json").read_text())
    assert ablated["config"]["benchmaker"]["steps"]["diversity"] is False
    assert (directory / "comparison.svg").read_text().lstrip().startswith("<?xml")
    assert "| benchmaker-no-diversity |" in (directory / "comparison.md").read_text()
    # multiplication is computable: the full method's keys are computed by program, the ablation's are not
    assert rows["benchmaker"]["program"]["accepted_with_program_key"] == 4
    assert rows["benchmaker"]["program"]["outcomes"]["agree"] == 4 and rows["benchmaker-no-program"]["program"] is None
    assert "| 4/4 | 4/4 drafts |" in (directory / "comparison.md").read_text()

    again = cli("compare", "--run", rows["direct"]["run_dir"], "--run", rows["benchmaker"]["run_dir"], "-q")
    assert again.returncode == 0, again.stderr
    assert "| direct |" in again.stdout and "| benchmaker |" in again.stdout

    # a second comparison is replayed from the cache, yet reports what the methods cost, not zero
    replay = cli("compare", str(config), "--methods", "direct,benchmaker", "-q")
    assert replay.returncode == 0, replay.stderr
    replayed = json.loads((Path(replay.stdout.strip().splitlines()[-1]) / "comparison.json").read_text())
    for row in replayed["rows"]:
        first = rows[row["label"]]
        assert row["per_item"]["requests"] == first["per_item"]["requests"] > 0
        assert row["tokens"] == first["tokens"] and row["cost_usd"] == 0.0


def test_compare_rejects_an_unknown_variant_before_spending_anything(tmp_path):
    result = cli("compare", str(write_config(tmp_path)), "--methods", "direct,benchmaker-no-magic")
    assert result.returncode == 2
    assert "unknown step 'magic'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "outputs" / "runs").exists()


def test_a_bad_attributes_file_fails_in_one_line_before_any_run(tmp_path):
    bad = tmp_path / "attributes.yaml"
    bad.write_text(
        "difficulty:\n- name: steps\n  levels: [{value: one, coefficient: 12}, {value: two, coefficient: 3}]\n"
    )
    config = write_config(tmp_path, method="benchmaker")
    result = cli("run", str(config), "--attributes", str(bad))
    assert result.returncode == 2, result.stderr
    assert "invalid attributes file" in result.stderr and "coefficient" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "outputs" / "runs").exists()


@pytest.mark.prefect
def test_run_summary_reports_program_verified_keys(tmp_path):
    config = write_config(tmp_path, method="benchmaker", benchmaker={"embedder": "hashing", "candidates": 1})
    result = cli("run", str(config), "--n", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "program-verified keys: 2/2 items; programs checked 2 drafts" in result.stdout
    assert "'agree': 2" in result.stdout and "agreeing with the generator's key in 100%" in result.stdout
