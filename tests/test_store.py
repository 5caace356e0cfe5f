import json

import pytest

from benchmaker.config import parse_config
from benchmaker.errors import StoreError
from benchmaker.items import Rejection
from benchmaker.store import REJECTIONS, RunStore, write_json_atomic


def _config(tmp_path):
    return parse_config(
        {"requirement": {"description": "Unit test store.", "n_items": 2}, "outputs_dir": str(tmp_path / "out")}
    )


def test_create_writes_manifest_without_secrets(tmp_path):
    store = RunStore.create(_config(tmp_path))
    manifest = store.manifest()
    assert manifest["status"] == "created"
    assert manifest["config"]["requirement"]["n_items"] == 2
    assert store.run_dir.parent.name == "runs"
    assert store.config() == _config(tmp_path)


def test_partial_last_line_from_a_kill_is_dropped_on_open(tmp_path):
    store = RunStore.create(_config(tmp_path))
    store.append_rejection(Rejection(attempt=0, stage="s", reason="r"))
    with (store.run_dir / REJECTIONS).open("a") as handle:
        handle.write('{"attempt": 1, "stage": "s", "rea')  # killed mid-write
    reopened = RunStore.open(store.run_dir)
    reopened.append_rejection(Rejection(attempt=2, stage="s", reason="r"))
    assert [r.attempt for r in reopened.rejections()] == [0, 2]


def test_corrupt_complete_line_is_an_error_not_silence(tmp_path):
    store = RunStore.create(_config(tmp_path))
    (store.run_dir / REJECTIONS).write_text('{"attempt": "x"}\n')
    with pytest.raises(StoreError, match="corrupt record"):
        store.rejections()


def test_open_refuses_a_non_run_directory(tmp_path):
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(tmp_path)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
