"""A path from untrusted data never leaves outputs/ (finding 5): a run's manifest names the scoring job's
directory, the compared runs' config names where comparisons go, a job manifest names companion runs."""

import json
from pathlib import Path

import pytest

from benchmaker.paths import UnsafePathError, inside, safe_component
from benchmaker.run import start_run
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.robustness import companion_config
from benchmaker.scoring.settings import ScoreSettings
from tests.conftest import drive
from tests.test_generation import config as generation_config


def _run_with_method(tmp_path: Path, method: str) -> Path:
    run = start_run(generation_config(tmp_path, requirement={"description": "x", "n_items": 2}))
    drive(run)
    manifest_path = run.store.run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["method"] = method  # what someone handing over a crafted run would write
    manifest["config"]["outputs_dir"] = str(tmp_path / "elsewhere")
    manifest_path.write_text(json.dumps(manifest))
    return run.store.run_dir


def _files_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


@pytest.mark.parametrize("method", ["ABSOLUTE", "../../../../escaped", "..", "a/../../b"])
def test_a_crafted_method_name_cannot_move_the_score_report_out_of_outputs(tmp_path, method):
    method = str(tmp_path / "elsewhere" / "evil") if method == "ABSOLUTE" else method
    run_dir = _run_with_method(tmp_path, method)
    outputs = tmp_path / "score-outputs"
    settings = ScoreSettings(panel=({"model": "scripted"},), judge=None, outputs_dir=outputs)
    job = ScoreJob([run_dir], settings)
    assert job.dir.parent == (outputs / "scores").resolve()
    assert "/" not in job.job_id and not job.job_id.startswith(".")
    assert _files_under(tmp_path / "elsewhere") == []
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_companion_runs_go_under_the_scoring_outputs_not_the_manifest_s(tmp_path):
    run_dir = _run_with_method(tmp_path, "direct")
    config = companion_config(run_dir, "Put differently: x", tmp_path / "score-outputs")
    assert config.outputs_dir == tmp_path / "score-outputs"


def test_a_companion_run_recorded_outside_outputs_is_refused(tmp_path):
    run_dir = _run_with_method(tmp_path, "direct")
    settings = ScoreSettings(panel=({"model": "scripted"},), judge=None, outputs_dir=tmp_path / "o")
    job = ScoreJob([run_dir], settings)
    manifest = json.loads((job.dir / "manifest.json").read_text())
    manifest["robustness_runs"] = {"direct": str(tmp_path / "victim")}
    (job.dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsafePathError, match="leaves"):
        job.companion_run("direct")


def test_compare_of_finished_runs_writes_beside_them_not_where_their_config_says(tmp_path):
    from typer.testing import CliRunner

    from benchmaker.cli import app
    from benchmaker.config import RunConfig
    from flows import compare as compare_flow

    run_dir = _run_with_method(tmp_path, "direct")
    written: list[RunConfig] = []

    def capture(base, runs, checker):
        written.append(base)
        return {"directory": str(tmp_path), "comparison": {"rows": []}}

    original = compare_flow.write_results
    compare_flow.write_results = capture
    try:
        CliRunner().invoke(app, ["compare", "--run", str(run_dir), "-q"])
    finally:
        compare_flow.write_results = original
    assert [base.outputs_dir for base in written] == [run_dir.resolve().parent.parent]


def test_helpers():
    assert safe_component("../../etc/passwd") == "etc-passwd"
    assert safe_component("..") == "x" and safe_component("", "run") == "run"
    assert safe_component("/abs/path") == "abs-path"
    assert inside("/tmp/out", "scores", "a") == Path("/tmp/out/scores/a").resolve()
    for bad in ("/etc", "../x", "a/../../x"):
        with pytest.raises(UnsafePathError):
            inside("/tmp/out", bad)
