"""The estimate before spending: the call plan from the config, priors from earlier runs, prices from litellm."""

import pytest

from benchmaker.config import parse_config
from benchmaker.estimate import DEFAULT_ACCEPTANCE, DEFAULT_OUTPUT_TOKENS, DEFAULT_VARIABLE_TOKENS, estimate, plan_key
from benchmaker.prompts import default_library
from benchmaker.run import start_run
from tests.conftest import drive


def config(tmp_path, method="benchmaker", model="scripted", n_items=10, benchmaker=None, **overrides):
    data = {
        "requirement": {"description": "Two-digit multiplication.", "n_items": n_items, "n_options": 4},
        "models": {"generator": model, "solver": model, "judge": model, "panel": [model]},
        "outputs_dir": str(tmp_path / "out"),
        "method": method,
        "seed": 3,
        "benchmaker": {"embedder": "hashing", **(benchmaker or {})},
        **overrides,
    }
    return parse_config(data)


def test_direct_plan_from_the_stated_defaults(tmp_path):
    result = estimate(config(tmp_path, method="direct", n_items=9))
    attempts = 9 / DEFAULT_ACCEPTANCE["direct"]
    assert result.attempts == pytest.approx(attempts) and result.calls == pytest.approx(attempts)
    prompt = len(default_library().get("direct.generate_mcq").body) / 4 + DEFAULT_VARIABLE_TOKENS
    assert result.input_tokens == pytest.approx(attempts * prompt)
    assert result.output_tokens == pytest.approx(attempts * DEFAULT_OUTPUT_TOKENS["direct.generate_mcq"])
    assert result.usd == 0.0 and "stated defaults" in result.priors


def test_the_benchmaker_plan_follows_the_steps(tmp_path):
    full = estimate(config(tmp_path, benchmaker={"program": {"mode": "on"}, "candidates": 4, "solver_samples": 7}))
    stages = {s.prompt_id: s for s in full.per_attempt}
    assert set(stages) == {
        "benchmaker.generate", "benchmaker.write_program", "benchmaker.check_draft", "benchmaker.solve",
        "benchmaker.discriminate",
    }  # fmt: skip
    assert (stages["benchmaker.generate"].samples, stages["benchmaker.solve"].samples) == (4, 7)
    assert stages["benchmaker.write_program"].samples == 2  # a bare majority of 3 programs first
    lean = estimate(
        config(
            tmp_path,
            benchmaker={
                "program": {"mode": "off"},
                "checks": {"single_question": False, "constraints": False},
                "steps": {"self_test": False, "discrimination": False, "attributes": False},
            },
        )
    )
    assert [s.prompt_id for s in lean.per_attempt] == ["benchmaker.generate"]
    assert "benchmaker.propose_attributes" not in {s.prompt_id for s in lean.setup}
    assert lean.calls < full.calls


def test_dollars_from_litellms_price_map_and_unknown_when_unpriced(tmp_path):
    import litellm

    priced = estimate(config(tmp_path, method="direct", model="openai/gpt-4o-mini"))
    price = litellm.model_cost["gpt-4o-mini"]
    expected = (
        priced.input_tokens * price["input_cost_per_token"] + priced.output_tokens * price["output_cost_per_token"]
    )
    assert priced.usd == pytest.approx(expected, rel=0.01)
    unpriced = estimate(config(tmp_path, method="direct", model="openai/not-a-priced-model"))
    assert unpriced.usd is None and unpriced.unpriced == ["openai/not-a-priced-model"]
    assert "unknown $" in unpriced.line()


def test_minutes_divide_by_concurrency_for_an_api_but_not_for_the_serial_local_model(tmp_path):
    def minutes(model, concurrency):
        return estimate(config(tmp_path, method="direct", model=model, concurrency=concurrency)).minutes

    assert minutes("openai/gpt-4o-mini", 8) == pytest.approx(minutes("openai/gpt-4o-mini", 1) / 8)
    assert minutes("local", 8) == pytest.approx(minutes("local", 1))
    assert minutes("local", 1) > 0


def test_priors_from_an_earlier_run_of_the_same_plan_predict_the_next(tmp_path):
    first = config(tmp_path, n_items=4, benchmaker={"references": 2, "program": {"mode": "off"}})
    drive(start_run(first))
    later = first.model_copy(update={"seed": 99})  # another seed: the same plan
    assert plan_key(later) == plan_key(first)
    predicted = estimate(later)
    assert "1 earlier run(s)" in predicted.priors
    run = start_run(later)
    drive(run)
    calls = [c for c in run.store.calls()]
    attempts = len(run.store.items()) + len(run.store.rejections())
    # every figure of the prediction came from the first run: calls and tokens land close to the metered ones
    assert predicted.calls == pytest.approx(len(calls), rel=0.25)
    metered_tokens = sum(c.input_tokens + c.output_tokens for c in calls)
    assert predicted.input_tokens + predicted.output_tokens == pytest.approx(metered_tokens, rel=0.25)
    assert attempts == pytest.approx(predicted.attempts, rel=0.5)
    other = estimate(config(tmp_path, n_items=4, benchmaker={"references": 2, "candidates": 2}))
    assert "stated defaults" in other.priors  # another plan learns nothing from it


def test_the_estimate_command_prints_the_plan_and_the_line(tmp_path):
    from typer.testing import CliRunner

    from benchmaker.cli import app
    from tests.conftest import write_config

    path = write_config(tmp_path, method="benchmaker")
    result = CliRunner().invoke(app, ["estimate", str(path), "--n", "6", "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    assert "| benchmaker.solve (per attempt) | solver | 10.0 | 10.0 |" in result.output  # 6 / 60% attempts
    assert result.output.strip().splitlines()[-1].startswith("estimate: ~")
    assert "for 6 items (~10 attempts at 60% acceptance, concurrency 4)" in result.output
    bad = CliRunner().invoke(app, ["estimate", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "missing.yaml" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow  # a CLI process
def test_the_estimate_never_reaches_for_the_remote_price_map(tmp_path):
    """Offline: litellm must be imported after benchmaker sets LITELLM_LOCAL_MODEL_COST_MAP, or it tries
    GitHub three times and prints a warning before every run (seen on a fresh clone)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmaker.cli", "estimate", str(REPO / "examples" / "arithmetic.yaml")],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "remote model cost map" not in result.stderr
