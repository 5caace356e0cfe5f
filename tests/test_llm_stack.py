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
    for key in "ab":
        model.complete(request(sample_key=key))
    # a third call could cost $0.01 more: $0.03 would pass the limit, so it is not sent
    with pytest.raises(BudgetExceeded, match="dollar budget"):
        model.complete(request(sample_key="c"))
    totals = meter.snapshot()
    assert totals.calls == 2
    assert totals.cost_usd == pytest.approx(0.02)
    assert (totals.input_tokens, totals.output_tokens) == (2, 4)  # the fake counts words


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


# -- budgets under concurrency, and retries metered (finding 10) ------------------------------------


def _hammer(model, threads: int = 16, per_thread: int = 12) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def worker(index: int) -> None:
        for call in range(per_thread):
            try:
                model.complete(request(sample_key=f"{index}-{call}"))
            except BudgetExceeded:
                return

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))


def test_max_calls_holds_at_concurrency_16_even_when_the_cache_writes_slowly(tmp_path, monkeypatch):
    import time

    from benchmaker.llm import cache as cache_module

    real_open = cache_module._open

    class SlowDisk:
        def __init__(self, store):
            self.store = store

        def get(self, key):
            return self.store.get(key)

        def set(self, key, value):
            time.sleep(0.03)  # between the provider's reply and its record: where the old budget leaked
            return self.store.set(key, value)

    monkeypatch.setattr(cache_module, "_open", lambda directory: SlowDisk(real_open(directory)))
    fake = ScriptedLLM(Script(delay_s=0.01, responses={"t.echo": ["ok"] * 1000}))
    model, meter = _role(tmp_path, Budget(max_calls=40), fake)
    _hammer(model)
    assert len(fake.requests) == 40 and meter.snapshot().calls == 40


def test_max_usd_holds_at_concurrency_16(tmp_path):
    fake = ScriptedLLM(Script(delay_s=0.02, usd_per_call=0.01, responses={"t.echo": ["ok"] * 1000}))
    model, meter = _role(tmp_path, Budget(max_usd=0.205), fake)
    _hammer(model)
    assert meter.snapshot().cost_usd <= 0.205
    assert len(fake.requests) == 20  # it stops at the last call that fits, not before


def test_retries_and_failed_calls_are_metered_and_logged(tmp_path):
    records = []
    provider = Counting([LLMTransientError("503"), LLMTransientError("429")])
    meter = Meter(Budget())
    model = build_role_model(
        "generator",
        ModelSpec(model="scripted"),
        settings=LLMSettings(max_retries=2, max_backoff_s=0.001),
        meter=meter,
        sink=records.append,
        cache_dir=None,
        provider=provider,
    )
    assert model.complete(request(sample_key="a")).text == "reply 3"  # third try answered
    provider.failures = [LLMTransientError("reset")] * 3
    with pytest.raises(LLMTransientError):
        model.complete(request(sample_key="b"))  # three tries, all failed
    assert [(r.retries, r.error is None) for r in records] == [(2, True), (2, False)]
    totals = meter.snapshot()
    assert (totals.calls, totals.retries, totals.failed_calls) == (1, 4, 1)
    assert provider.calls == 6
    resumed = Meter(Budget(), previous=records)  # a resume reads the same totals back
    assert resumed.snapshot() == totals


def test_a_call_waits_for_the_calls_in_flight_instead_of_stopping_the_run():
    import threading

    from benchmaker.llm.meter import Reservation

    meter = Meter(Budget(max_calls=2))
    held = [meter.reserve(), meter.reserve()]  # two calls in flight fill the budget
    got: list[Reservation] = []
    waiter = threading.Thread(target=lambda: got.append(meter.reserve()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got  # not refused: the calls in flight may still fail
    meter.cancel(held.pop())  # one of them failed: its place is free
    waiter.join(5)
    assert len(got) == 1
    meter.settle(held.pop(), Completion(texts=("a",)))
    meter.settle(got.pop(), Completion(texts=("b",)))
    with pytest.raises(BudgetExceeded, match="call budget"):  # spent now: refused at once
        meter.reserve()
