"""The client stack around any provider: cache, retries, budget, metering."""

import pytest

from benchmaker.config import Budget, LLMSettings, ModelSpec
from benchmaker.errors import BudgetExceeded, LLMPermanentError, LLMTransientError
from benchmaker.llm.cache import CachingClient
from benchmaker.llm.factory import build_role_model
from benchmaker.llm.meter import Meter
from benchmaker.llm.retry import RetryingClient
from benchmaker.llm.scripted import Script, ScriptedError, ScriptedLLM
from benchmaker.llm.types import Completion, LLMRequest, Message

MESSAGES = (Message(role="user", content="hello"),)


def request(**kwargs) -> LLMRequest:
    return LLMRequest(model="scripted", messages=MESSAGES, prompt_id="t.echo", **kwargs)


class Counting:
    """A provider that counts real calls and fails as told."""

    def __init__(self, failures=()):
        self.calls = 0
        self.failures = list(failures)

    def complete(self, req):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return Completion(texts=(f"reply {self.calls}",) * req.n)


def test_cache_hits_identical_requests_and_separates_samples(tmp_path):
    inner = Counting()
    client = CachingClient(inner, tmp_path)
    first = client.complete(request(sample_key="a"))
    again = client.complete(request(sample_key="a", role="other", attempt=9))  # bookkeeping is not content
    other = client.complete(request(sample_key="b"))
    assert (first.cached, again.cached, other.cached) == (False, True, False)
    assert again.text == first.text
    assert inner.calls == 2
    # a new client over the same directory (a resumed process) still hits
    assert CachingClient(Counting(), tmp_path).complete(request(sample_key="a")).cached


def test_endpoint_identity_separates_cache_entries(tmp_path):
    inner = Counting()
    CachingClient(inner, tmp_path, endpoint_identity="m1").complete(request())
    CachingClient(inner, tmp_path, endpoint_identity="m2").complete(request())
    assert inner.calls == 2


def test_retries_transient_errors_honouring_retry_after():
    sleeps = []
    inner = Counting([LLMTransientError("429", retry_after=7), LLMTransientError("503")])
    client = RetryingClient(inner, max_retries=3, max_backoff_s=30, sleep=sleeps.append)
    assert client.complete(request()).text == "reply 3"
    assert sleeps[0] == 7
    assert 0 < sleeps[1] <= 30


def test_retry_after_is_capped():
    sleeps = []
    inner = Counting([LLMTransientError("429", retry_after=3600)])
    RetryingClient(inner, max_retries=1, max_backoff_s=5, sleep=sleeps.append).complete(request())
    assert sleeps == [5]


def test_permanent_errors_are_not_retried():
    inner = Counting([LLMPermanentError("401")])
    with pytest.raises(LLMPermanentError):
        RetryingClient(inner, max_retries=5, sleep=lambda s: None).complete(request())
    assert inner.calls == 1


def test_retries_are_bounded():
    inner = Counting([LLMTransientError("x")] * 10)
    with pytest.raises(LLMTransientError):
        RetryingClient(inner, max_retries=2, sleep=lambda s: None).complete(request())
    assert inner.calls == 3


def _role(tmp_path, budget, provider, sink=None):
    meter = Meter(budget)
    spec = ModelSpec(model="scripted")
    model = build_role_model(
        "generator",
        spec,
        settings=LLMSettings(max_retries=0),
        meter=meter,
        sink=sink,
        cache_dir=tmp_path / "cache",
        provider=provider,
    )
    return model, meter


def test_call_budget_stops_real_calls_but_not_cached_ones(tmp_path):
    records = []
    provider = Counting()
    model, meter = _role(tmp_path, Budget(max_calls=2), provider, sink=records.append)
    model.complete(request(sample_key="1"))
    model.complete(request(sample_key="2"))
    with pytest.raises(BudgetExceeded, match="call budget"):
        model.complete(request(sample_key="3"))
    assert model.complete(request(sample_key="1")).cached  # replay is free and allowed
    totals = meter.snapshot()
    assert (totals.calls, totals.cached_calls) == (2, 1)
    assert [r.cached for r in records] == [False, False, True]
    assert provider.calls == 2


def test_dollar_budget_and_metering(tmp_path):
    script = Script(usd_per_call=0.01, responses={"t.echo": ["hi there"] * 4})
    model, meter = _role(tmp_path, Budget(max_usd=0.025), ScriptedLLM(script))
    for key in "abc":
        model.complete(request(sample_key=key))
    with pytest.raises(BudgetExceeded, match="dollar budget"):
        model.complete(request(sample_key="d"))
    totals = meter.snapshot()
    assert totals.calls == 3
    assert totals.cost_usd == pytest.approx(0.03)
    assert (totals.input_tokens, totals.output_tokens) == (3, 6)  # the fake counts words


def test_budget_counts_previous_calls_of_a_resumed_run(tmp_path):
    from benchmaker.items import CallRecord

    previous = [CallRecord(role="g", model="m", prompt_id="p", request_hash="h", cached=False)] * 2
    meter = Meter(Budget(max_calls=2), previous=previous)
    with pytest.raises(BudgetExceeded):
        meter.reserve()


def test_scripted_errors_and_exhaustion():
    fake = ScriptedLLM(Script(responses={"t.echo": ["one", ScriptedError(error="transient", retry_after=0)]}))
    assert fake.complete(request()).text == "one"
    with pytest.raises(LLMTransientError):
        fake.complete(request())
    with pytest.raises(Exception, match="no reply"):
        fake.complete(request())
