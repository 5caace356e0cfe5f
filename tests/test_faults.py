"""The fault suite against the simulated provider, through the real litellm path: a run meets 30% injected
faults (every kind), both methods reach their target with nothing lost or duplicated, and every request the
provider saw is metered (issue 12). ``scripts/bench_faults.py`` runs the long version and prints figures."""

import pytest

from benchmaker.config import parse_config
from benchmaker.run import start_run
from benchmaker.simulate import FAULT_KINDS, FaultMix, SimulationSettings
from tests.conftest import drive, drive_concurrently, sim_models


def fault_config(tmp_path, provider, method, n_items=4):
    return parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": n_items, "n_options": 4},
            "models": sim_models(provider, timeout_s=0.5),
            "method": method,
            "outputs_dir": str(tmp_path / method),
            "concurrency": 4,
            "seed": 11,
            "llm": {"max_retries": 6, "max_backoff_s": 0.02},
            "benchmaker": {"embedder": "hashing", "candidates": 2, "solver_samples": 3},
            "generation": {"max_attempts_per_item": 5},
        }
    )


def check_nothing_lost_and_every_request_metered(run, summary, provider):
    items, rejections = run.store.items(), run.store.rejections()
    target = run.config.requirement.n_items
    assert summary["status"] == "complete" and len(items) == target
    assert len({item.id for item in items}) == target  # no duplicate
    attempts = [item.attempt for item in items] + [r.attempt for r in rejections]
    assert len(attempts) == len(set(attempts))  # every attempt recorded once
    calls = run.store.calls()
    requests = sum(1 + call.retries for call in calls if not call.cached)
    assert requests == len(provider.stats.entries())  # every request the provider saw, retries included
    usage = summary["usage"]
    assert usage["retries"] == sum(call.retries for call in calls)
    assert usage["calls"] + usage["failed_calls"] == sum(not call.cached for call in calls)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["direct", "benchmaker"])
def test_a_run_against_30_percent_faults_finishes_its_target(tmp_path, simulated_provider, method):
    faults = FaultMix.spread(0.3, retry_after_s=0.01, slow_s=0.7)
    provider = simulated_provider(SimulationSettings(seed=3, faults=faults))
    run = start_run(fault_config(tmp_path, provider, method, n_items=10 if method == "direct" else 4))
    summary = drive_concurrently(run)
    check_nothing_lost_and_every_request_metered(run, summary, provider)
    seen = provider.stats.counts()
    faults_met = sum(seen.get(kind, 0) for kind in FAULT_KINDS) + seen.get("client_gone", 0)
    assert faults_met >= 2 and summary["usage"]["retries"] >= 1, seen


def test_a_full_disk_mid_append_is_a_clear_error_and_the_run_resumes(tmp_path, monkeypatch):
    import errno
    import json

    from benchmaker import store as store_module
    from benchmaker.errors import StoreError
    from benchmaker.run import resume_run
    from tests.test_generation import config as direct_config

    run = start_run(direct_config(tmp_path))
    benchmark = run.store.run_dir / "benchmark.jsonl"
    real_write, appended = store_module.os.write, []

    def disk_fills_at_the_third_item(fd, data):
        if b'"question"' in data and b'"choice_order"' in data:  # an item's line
            appended.append(len(data))
            if len(appended) == 3:
                real_write(fd, bytes(data[:40]))  # what fitted
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store_module.os, "write", disk_fills_at_the_third_item)
    with pytest.raises(StoreError, match=r"benchmark.jsonl: No space left on device; nothing half-written was kept"):
        drive(run)
    monkeypatch.undo()
    lines = benchmark.read_bytes().split(b"\n")
    assert lines[-1] == b"" and [json.loads(line)["metadata"]["attempt"] for line in lines[:-1]] == [0, 1]
    run.store.close()  # the process that hit the full disk exits

    resumed = resume_run(run.store.run_dir)  # once there is room again
    summary = drive(resumed)
    items = resumed.store.items()
    assert summary["status"] == "complete" and len(items) == 8 and len({i.id for i in items}) == 8
    assert sorted(item.attempt for item in items) == list(range(8))


@pytest.mark.parametrize(
    ("model", "budget"),
    [("openai/simulated", {"max_calls": 12}), ("openai/gpt-4o-mini", {"max_usd": 0.002})],  # priced by litellm
)
def test_budgets_hold_for_a_run_at_concurrency_16(tmp_path, simulated_provider, model, budget):
    from benchmaker.simulate import LatencyModel

    provider = simulated_provider(SimulationSettings(latency=LatencyModel(ttft_median_s=0.05, ttft_sigma=0.3)))
    config = parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 100, "n_options": 4},
            "models": sim_models(provider, model=model, max_tokens=300),
            "method": "direct",
            "outputs_dir": str(tmp_path / "out"),
            "concurrency": 16,
            "budget": budget,
        }
    )
    summary = drive_concurrently(start_run(config))
    answered = provider.stats.counts().get("ok", 0)
    if "max_calls" in budget:
        assert summary["usage"]["calls"] == answered == 12
    else:  # about $0.000035 a call: 16 in flight near the limit used to carry it past
        assert 0 < summary["usage"]["cost_usd"] <= 0.002 and summary["usage"]["unpriced_calls"] == 0
        assert summary["usage"]["calls"] == answered > 20
    assert summary["stop_reason"] == "budget_exhausted"
