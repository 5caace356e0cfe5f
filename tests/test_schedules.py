"""Scheduled refreshes on a real Prefect server on loopback (started and stopped by `benchmaker server`).

* A deployment served by `benchmaker schedule --interval`: two scheduled runs publish v1 and v2 with
  no item in common and a correct changelog; the third run's items were made public beforehand, so
  its gate refuses it and no v3 appears.
* Two deployments on one work pool and two `prefect worker start` processes: every scheduled run is
  executed exactly once (one `started` record, one Running state on the server).

Every process these tests start (server, serve process, workers, the flow runs they spawn) carries a
tag in its environment and is killed by pid at the end, on success or failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from benchmaker.items import normalize_text
from benchmaker.releases.refresh import derive_seed, load_refresh_config
from benchmaker.releases.store import ReleaseStore
from benchmaker.run import start_run
from tests.conftest import REPO, drive
from tests.prefect_processes import TAG, api, cli, free_port, kill_tagged, spawn, tagged_pids, wait_for

# Under pytest-xdist (--dist loadscope) one worker runs this module: both tests share one Prefect server.
pytestmark = [pytest.mark.slow, pytest.mark.prefect]

OUTCOMES = ("published", "failed", "error")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`benchmaker server start` on a free loopback port with its own PREFECT_HOME; stopped at the end."""
    base = tmp_path_factory.mktemp("prefect_server")
    tag = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_HOME": str(base / "home"),
            "BENCHMAKER_CACHE_DIR": str(base / "cache"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",  # new deployments get their runs within a second
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
            TAG: tag,
        }
    )
    port = free_port()
    try:
        started = cli(env, "server", "start", "--port", str(port), timeout=240)
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith(f"running: http://127.0.0.1:{port} ")
        status = cli(env, "server", "status")
        assert status.returncode == 0 and f"API http://127.0.0.1:{port}/api" in status.stdout
        yield {"env": env, "api_url": f"http://127.0.0.1:{port}/api", "base": base}
    finally:
        stopped = cli(env, "server", "stop")
        leftovers = kill_tagged(tag)
        assert stopped.stdout.strip() == "stopped", stopped.stdout + stopped.stderr
        assert cli(env, "server", "status").returncode == 1
        assert leftovers == [] and tagged_pids(tag) == []


def _child_env(server: dict, tag: str, **extra: str) -> dict[str, str]:
    """The server's environment, with a tag of this test's own for the processes it starts."""
    return {**server["env"], TAG: tag, **extra}


def _config(path: Path, **overrides: object) -> Path:
    data: dict[str, object] = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": 4, "n_options": 4},
        "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
        "method": "direct",
        "outputs_dir": str(path.parent / "outputs"),
    }
    data.update(overrides)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _outcomes(store: ReleaseStore) -> list:
    return [entry for entry in store.history() if entry.event in OUTCOMES]


def _flow_runs(api_url: str, ids: list[str]) -> dict[str, dict]:
    runs = api(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}, "limit": 200})
    return {run["id"]: run for run in runs}


def _section_ids(changelog: str, start: str, end: str) -> set[str]:
    section = changelog.split(start, 1)[1].split(end, 1)[0]
    return {
        cell.strip("` ") for line in section.splitlines() if line.startswith("| `") for cell in [line.split("|")[1]]
    }


def test_scheduled_refreshes_publish_v1_and_v2_and_a_failing_gate_publishes_no_v3(server, tmp_path):
    name = "weekly"
    public = tmp_path / "public.jsonl"
    public.write_text('{"question": "Placeholder?", "choices": ["a", "b"], "answer": 0}\n')
    config = _config(
        tmp_path / "config.yaml",
        seed=11,
        release={"against": ["public.jsonl"], "dedup": {"embedder": "hashing"}, "gates": {"min_items": 3}},
    )
    # The items the third refresh will generate (version 3, first attempt) are made public beforehand:
    # that refresh brings nothing new, and its gate must refuse it.
    run_config, _ = load_refresh_config(config, outputs_dir=tmp_path / "scratch")
    third = start_run(run_config.model_copy(update={"seed": derive_seed(11, name, 3, 0)}))
    drive(third)
    third_items = third.store.items()
    public.write_text("".join(json.dumps({"question": i.question, "choices": i.choices, "answer": i.answer}) + "\n"
                              for i in third_items))  # fmt: skip

    store = ReleaseStore(tmp_path / "outputs", name)
    tag = uuid.uuid4().hex
    serving = spawn(
        _child_env(server, tag),
        [sys.executable, "-m", "benchmaker.cli", "schedule", str(config), "--release", name, "--interval", "5"],
        tmp_path / "serve.log",
    )
    try:
        wait_for(lambda: len(_outcomes(store)) >= 3, 200, [serving], "three scheduled refreshes")
    finally:
        kill_tagged(tag)
        serving.wait(10)
    outcomes = _outcomes(store)[:3]
    assert [(e.event, e.version) for e in outcomes] == [("published", 1), ("published", 2), ("failed", 3)], (
        tmp_path / "serve.log"
    ).read_text()[-3000:]
    assert store.versions() == [1, 2] and not (store.root / "v3").exists()

    # v1 and v2: nothing in common, and the changelog says so
    v1, v2 = store.items(1), store.items(2)
    assert {i.id for i in v1}.isdisjoint(i.id for i in v2)
    assert {normalize_text(i.question) for i in v1}.isdisjoint(normalize_text(i.question) for i in v2)
    changelog = (store.version_dir(2) / "CHANGELOG.md").read_text()
    assert _section_ids(changelog, "## New items", "## Anchors") == {i.id for i in v2}
    assert _section_ids(changelog, "## Retired from v1", "## Dropped") == {i.id for i in v1}
    assert "## Anchors from v1 (0)" in changelog
    assert (store.version_dir(2) / "quality" / "report.html").is_file()

    # the refused v3: its record names the gate and each dropped item's public twin
    failed = json.loads(Path(outcomes[2].record).read_text())
    assert failed["failure_reasons"] == ["min_items: 0 new items: 0 not >= 3"]
    assert {d["question"] for d in failed["dropped"]} == {i.question for i in third_items}
    assert {d["collided_with"]["origin"] for d in failed["dropped"]} == {"against:public.jsonl"}

    # each outcome comes from its own scheduled flow run of the deployment, as the server records it
    run_ids = [e.trigger["flow_run_id"] for e in outcomes]
    assert len(set(run_ids)) == 3 and all(e.trigger["deployment"] == name for e in outcomes)
    assert [store.manifest(v).trigger["flow_run_id"] for v in (1, 2)] == run_ids[:2]
    runs = _flow_runs(server["api_url"], run_ids)
    assert [runs[i]["state_type"] for i in run_ids] == ["COMPLETED", "COMPLETED", "FAILED"]
    assert all(runs[i]["auto_scheduled"] for i in run_ids)


def test_two_schedules_on_two_workers_execute_each_scheduled_run_exactly_once(server, tmp_path):
    pool = "refresh-pool"
    names = ("alpha", "beta")
    tag = uuid.uuid4().hex
    env = _child_env(server, tag, PREFECT_API_URL=server["api_url"])
    makers = []
    for seed, name in enumerate(names, 21):
        config = _config(
            tmp_path / f"{name}.yaml",
            seed=seed,
            release={"dedup": {"embedder": "hashing"}, "scoring": {"enabled": False}},
        )
        args = ["schedule", str(config), "--release", name, "--interval", "10", "--pool", pool]
        makers.append(spawn(env, [sys.executable, "-m", "benchmaker.cli", *args], tmp_path / f"schedule-{name}.log"))
    for name, maker in zip(names, makers, strict=True):  # both deployments are made at the same time
        assert maker.wait(120) == 0, (tmp_path / f"schedule-{name}.log").read_text()
        made = (tmp_path / f"schedule-{name}.log").read_text()
        assert f"deployment refresh-benchmark/{name} " in made and f"on pool {pool!r}" in made
    stores = {name: ReleaseStore(tmp_path / "outputs", name) for name in names}
    worker_env = {**env, "PREFECT_LOGGING_LEVEL": "INFO"}  # workers log each submission and each lost claim
    workers = [
        spawn(
            worker_env,
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                pool,
                "--name",
                f"worker-{i}",
                "--limit",
                "1",
            ],
            tmp_path / f"worker-{i}.log",
        )
        for i in (1, 2)
    ]
    try:
        # One published version per schedule is enough to show the claim protocol: every run the server
        # scheduled meanwhile was offered to both workers, and started ones are counted below.
        wait_for(lambda: all(len(s.versions()) >= 1 for s in stores.values()), 200, workers, "a version per schedule")
    finally:
        kill_tagged(tag)
        for worker in workers:
            worker.wait(10)

    started: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    for name, store in stores.items():
        history = store.history()
        started.update(e.trigger["flow_run_id"] for e in history if e.event == "started")
        finished.update(e.trigger["flow_run_id"] for e in history if e.event in OUTCOMES)
        versions = store.versions()
        assert versions == list(range(1, len(versions) + 1))
        triggers = [store.manifest(v).trigger for v in versions]
        assert len({t["flow_run_id"] for t in triggers}) == len(versions)
        assert all(t["deployment"] == name for t in triggers)
    assert started and max(started.values()) == 1, started  # no run started twice, by either worker
    assert max(finished.values()) == 1 and set(finished) <= set(started)

    runs = _flow_runs(server["api_url"], list(started))
    assert set(runs) == set(started)
    for run_id, run in runs.items():
        assert run["auto_scheduled"] and run["work_pool_name"] == pool
        states = api(server["api_url"], "/flow_run_states/?flow_run_id=" + run_id)
        assert [s["type"] for s in states].count("RUNNING") == 1, (run_id, [s["type"] for s in states])
    # which worker ran what: a worker logs every run it tries to claim, and the runs whose claim the
    # server refused because the other worker had it already
    executed, refused = [], 0
    for i in (1, 2):
        log = (tmp_path / f"worker-{i}.log").read_text()
        submitted = set(re.findall(r"submitting flow run '([0-9a-f-]{36})'", log))
        aborted = set(re.findall(r"Aborted submission of flow run '([0-9a-f-]{36})'", log))
        executed.append(submitted - aborted)
        refused += len(aborted)
    assert executed[0].isdisjoint(executed[1])
    assert set(started) <= executed[0] | executed[1]
    print(f"runs executed per worker: {[len(e) for e in executed]}; claims the server refused: {refused}")
