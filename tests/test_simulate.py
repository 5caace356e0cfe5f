"""The simulated provider: each fault it injects reaches the client the way a real provider's would, its
draws are seeded, and its latency follows the model."""

import json
import math
import statistics

import pytest
from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.config import ModelSpec
from benchmaker.errors import LLMFatalError, LLMTransientError
from benchmaker.llm.factory import provider_client
from benchmaker.llm.types import LLMRequest
from benchmaker.methods.direct import mcq_reply_model
from benchmaker.prompts import default_library
from benchmaker.simulate import FAULT_KINDS, FaultMix, LatencyModel, SimulationSettings
from benchmaker.simulate.faults import decide
from tests.conftest import SIM_KEY_ENV


def mcq_request(seed: int = 1) -> LLMRequest:
    schema = mcq_reply_model(4).model_json_schema()
    messages = (
        default_library()
        .get("direct.generate_mcq")
        .render(requirement="x", language="English", n_options=4, letters=list("ABCD"), schema=json.dumps(schema))
    )
    return LLMRequest(model="openai/sim", messages=messages, seed=seed, response_schema=schema, max_tokens=300)


def client(provider, model="openai/simulated", timeout_s=0.5):
    spec = ModelSpec(
        model=model, api_base=provider.api_base, api_key_env=SIM_KEY_ENV, response_format="json_schema",
        timeout_s=timeout_s,
    )  # fmt: skip
    return provider_client(spec, local_api_base=None, script_dir=None)[0]


def test_a_plain_reply_is_the_scripted_fake_s(simulated_provider):
    provider = simulated_provider()
    completion = client(provider).complete(mcq_request())
    reply = json.loads(completion.text)
    a, b = (int(x) for x in reply["question"].removeprefix("What is ").removesuffix("?").split(" multiplied by "))
    assert reply["choices"]["ABCD".index(reply["answer"])] == str(a * b)
    assert completion.response_id == "chatcmpl-sim-0" and provider.stats.counts() == {"ok": 1}


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "schema_break"])
def test_every_fault_reaches_the_client_as_a_transient_error(simulated_provider, kind):
    provider = simulated_provider(faults=FaultMix(**{kind: 1.0}, retry_after_s=3, slow_s=1.0))
    with pytest.raises(LLMTransientError) as raised:
        client(provider).complete(mcq_request())
    if kind == "rate_limit":
        assert raised.value.retry_after == 3  # Retry-After read from the 429
    assert len(provider.stats.entries()) == 1  # no retry hidden inside the SDK


def test_a_schema_breaking_reply_arrives_and_fails_its_schema(simulated_provider):
    from benchmaker.llm.structured import ReplyInvalid, parse_reply

    provider = simulated_provider(faults=FaultMix(schema_break=1.0))
    completion = client(provider).complete(mcq_request())
    with pytest.raises(ReplyInvalid):
        parse_reply(completion.text, mcq_reply_model(4))


def test_an_unauthorized_model_is_a_fatal_error_that_does_not_repeat_the_key(simulated_provider):
    provider = simulated_provider()
    with pytest.raises(LLMFatalError) as raised:
        client(provider, model="openai/simulated-unauthorized").complete(mcq_request())
    assert "Incorrect API key" in str(raised.value) and "simulated-key" not in str(raised.value)


def test_draws_are_seeded_per_request_and_occurrence():
    settings = SimulationSettings(seed=4, faults=FaultMix.spread(0.3))
    first = [decide(settings, f"body-{i}", 0).fault for i in range(4000)]
    assert first == [decide(settings, f"body-{i}", 0).fault for i in range(4000)]  # reproducible
    retried = [decide(settings, f"body-{i}", 1).fault for i in range(4000)]
    assert first != retried  # a retry of the same request draws afresh
    share = sum(fault is not None for fault in first) / len(first)
    assert abs(share - 0.3) < 0.03
    other_seed = [decide(SimulationSettings(seed=5, faults=settings.faults), f"body-{i}", 0).fault for i in range(50)]
    assert other_seed != first[:50]


def test_latency_model():
    import random

    model = LatencyModel(ttft_median_s=0.6, ttft_sigma=0.5, tokens_per_s=80)
    rng = random.Random(1)
    firsts = [model.seconds(rng, 0) for _ in range(4000)]
    assert statistics.median(firsts) == pytest.approx(0.6, rel=0.05)
    assert statistics.stdev(math.log(x) for x in firsts) == pytest.approx(0.5, rel=0.05)
    assert LatencyModel(ttft_median_s=0.5, ttft_sigma=0, tokens_per_s=80).seconds(rng, 40) == pytest.approx(1.0)


def test_fault_rates_are_validated_and_the_command_says_so_in_one_line():
    with pytest.raises(ValueError, match="more than 1"):
        FaultMix(rate_limit=0.6, reset=0.6)
    result = CliRunner().invoke(app, ["simulate-provider", "--faults", "rate_limit=0.7,reset=0.7"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "more than 1" in result.stderr
    result = CliRunner().invoke(app, ["simulate-provider", "--faults", "teleport=0.1"])
    assert result.exit_code == 2 and "teleport" in result.stderr
