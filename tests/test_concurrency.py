"""Independent calls of one attempt go out together for an API, and stay serial (same requests, same cache
keys) for the embedded local model. Concurrency is proven with barriers (a serial caller would break them),
never with timings."""

import json
import threading
from pathlib import Path

import litellm
import pytest

from benchmaker.config import Budget, LLMSettings, ModelSpec, parse_config
from benchmaker.items import MCQ
from benchmaker.llm.factory import build_role_model
from benchmaker.llm.fanout import together
from benchmaker.llm.litellm_client import LiteLLMClient
from benchmaker.llm.meter import Meter
from benchmaker.llm.types import Completion, LLMRequest, Message, Usage
from benchmaker.methods.benchmaker.discrimination import discriminate
from benchmaker.prompts import default_library
from benchmaker.run import start_run
from tests.conftest import drive

# -- the fan-out itself ----------------------------------------------------------------------------------


def test_parallel_calls_overlap_and_keep_their_order():
    barrier = threading.Barrier(3, timeout=10)  # only three calls in flight at once can pass it

    def call(value):
        return lambda: (barrier.wait(), value)[1]

    assert together([call("a"), call("b"), call("c")], parallel=True) == ["a", "b", "c"]


def test_the_first_error_in_call_order_wins_and_serial_stops_at_it():
    ran = []

    def ok(name):
        return lambda: ran.append(name) or name

    def boom(name):
        def fail():
            ran.append(name)
            raise ValueError(name)

        return fail

    with pytest.raises(ValueError, match="first"):
        together([ok("a"), boom("first"), boom("second")], parallel=True)
    assert sorted(ran) == ["a", "first", "second"]  # every parallel call ran to its end
    ran.clear()
    with pytest.raises(ValueError, match="first"):
        together([ok("a"), boom("first"), ok("never")], parallel=False)
    assert ran == ["a", "first"]


# -- the litellm client: n samples a provider cannot batch --------------------------------------------------


def request(**kwargs):
    return LLMRequest(model="m", messages=(Message(role="user", content="hi"),), **kwargs)


def test_api_samples_without_native_n_go_out_together():
    barrier = threading.Barrier(4, timeout=10)
    client = LiteLLMClient(litellm_model="anthropic/x", native_n=False, parallel=True, free=True)

    def one_call(req, n):
        barrier.wait()
        return [f"seed {req.seed}"], ["stop"], Usage(input_tokens=1, output_tokens=2), f"id-{req.seed}"

    client._one_call = one_call
    completion = client.complete(request(n=4, seed=7))
    assert completion.texts == ("seed 7", "seed 8", "seed 9", "seed 10")
    assert completion.response_id == "id-7,id-8,id-9,id-10"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (4, 8)


# Recorded on main before concurrency existed (commit 0a6cbab): the request a local solver call of n=3
# sent, and its cache key. The local model must keep both.
GOLDEN_LOCAL_KEY = "b6182b6c8ba8cd3cff9667cd3b60edaf3fc3b18ebfffcfe2ad03ca6da7e0d402"


def test_local_model_stays_serial_with_the_same_requests_and_cache_key(tmp_path, monkeypatch):
    sent, active, overlapped = [], [0], [False]
    lock = threading.Lock()
    original = litellm.completion

    def recording(**kwargs):
        with lock:
            active[0] += 1
            overlapped[0] |= active[0] > 1
        try:
            threading.Event().wait(0.02)  # long enough for a parallel sibling to show up
            sent.append({k: v for k, v in kwargs.items() if k != "mock_response"})
            return original(**kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(litellm, "completion", recording)
    spec = ModelSpec(model="local", extra={"mock_response": '{"answer": "A"}'})
    records = []
    role = build_role_model(
        "solver",
        spec,
        settings=LLMSettings(),
        meter=Meter(Budget()),
        sink=records.append,
        cache_dir=tmp_path / "cache",
        local_api_base="http://127.0.0.1:9/v1",
    )
    assert role.parallel is False
    req = role.request(
        (Message(role="user", content="2+2?"),),
        prompt_id="benchmaker.solve",
        temperature=1.0,
        n=3,
        seed=11,
        schema={"type": "object"},
        sample_key="seed=0|attempt=1|solve",
        attempt=1,
    )
    role.complete(req)
    assert not overlapped[0], "the embedded server is serial: its calls must not overlap"
    common = {
        "api_base": "http://127.0.0.1:9/v1",
        "api_key": "no-key-needed",
        "max_tokens": 700,
        "messages": [{"content": "2+2?", "role": "user"}],
        "model": "openai/local",
        "num_retries": 0,
        "response_format": {"schema": {"type": "object"}, "type": "json_object"},
        "temperature": 1.0,
        "timeout": 300,
    }
    assert sent == [{**common, "seed": 11}, {**common, "seed": 12}, {**common, "seed": 13}]
    assert [r.request_hash for r in records] == [GOLDEN_LOCAL_KEY]


def test_which_models_take_parallel_requests(tmp_path):
    def role(model):
        return build_role_model(
            "judge",
            ModelSpec(model=model, api_base="http://127.0.0.1:9/v1"),
            settings=LLMSettings(),
            meter=Meter(Budget()),
            sink=None,
            cache_dir=None,
            local_api_base="http://127.0.0.1:9/v1",
        )

    assert role("openai/gpt-4o-mini").parallel and role("anthropic/claude-3-5-haiku-latest").parallel
    assert not role("local").parallel and not role("scripted").parallel


# -- the method: the judge's two readings, the k programs ----------------------------------------------------


class BarrierJudge:
    """Answers the discrimination prompt only once both readings are in flight."""

    def __init__(self):
        self.barrier = threading.Barrier(2, timeout=10)
        self.seen = []

    def complete(self, request):
        self.barrier.wait()
        self.seen.append(request.sample_key)
        verdict = {"analysis": "checked", "score": 2, "label": "C"}
        return Completion(texts=(json.dumps(verdict),), usage=Usage())


def test_the_judges_two_readings_go_out_together_for_an_api():
    provider = BarrierJudge()
    judge = build_role_model(
        "judge",
        ModelSpec(model="openai/x"),
        settings=LLMSettings(max_retries=0),
        meter=Meter(Budget()),
        sink=None,
        cache_dir=None,
        provider=provider,
        parallel=True,
    )
    mcq = MCQ(question="Which is prime?", choices=("4", "6", "7", "9"), answer_index=0)
    result = discriminate(
        judge, default_library(), mcq, key_solution="K", rival_solution="R",
        temperature=0.0, seed=1, sample_key="d", attempt=0, max_repairs=0,
    )  # fmt: skip
    assert result.accepted and result.label == 2
    assert [v["order"] for v in result.verdicts] == ["rival_first", "key_first"]  # call order, not finish order
    assert sorted(provider.seen) == ["d|key_first", "d|rival_first"]


def run_outcome(tmp_path: Path, name: str):
    cfg = parse_config(
        {
            "requirement": {"description": "Two-digit multiplication.", "n_items": 3, "n_options": 4},
            "models": {"generator": "scripted", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]},
            "outputs_dir": str(tmp_path / name),
            "seed": 5,
            "benchmaker": {
                "embedder": "hashing",
                "references": 2,
                "program": {"mode": "on", "early_stop": False, "allow_weaker_isolation": True},
                "discrimination_trigger": "any",
            },
        }
    )
    run = start_run(cfg)
    drive(run)
    items = [(i.question, i.choices, i.answer, i.metadata.get("difficulty")) for i in run.store.items()]
    calls = sorted((c.prompt_id, c.request_hash) for c in run.store.calls())
    return items, calls


@pytest.mark.slow
def test_a_parallel_run_makes_the_same_items_from_the_same_requests(tmp_path, monkeypatch):
    serial = run_outcome(tmp_path, "serial")
    monkeypatch.setattr("benchmaker.llm.factory.parallel_requests", lambda spec: True)
    parallel = run_outcome(tmp_path, "parallel")
    assert serial[0] and parallel == serial
    prompts = {prompt for prompt, _ in serial[1]}
    assert {"benchmaker.write_program", "benchmaker.solve", "benchmaker.generate"} <= prompts
