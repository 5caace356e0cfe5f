"""Metering and budget: every call is counted and logged, every real call is paid for first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from benchmaker.config import Budget
from benchmaker.errors import BudgetExceeded
from benchmaker.items import CallRecord
from benchmaker.llm.types import Completion, LLMClient, LLMRequest


class UsageTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    llm_seconds: float = 0.0


class Meter:
    """Thread-safe totals plus the budget check.

    A call reserves its slot before it is sent, so concurrent workers cannot overshoot
    ``max_calls``; dollars are known only afterwards, so ``max_usd`` can be overshot by at most the
    calls already in flight.
    """

    def __init__(self, budget: Budget, previous: Iterable[CallRecord] = ()) -> None:
        self.budget = budget
        self.totals = UsageTotals()
        self._in_flight = 0
        self._lock = threading.Lock()
        for record in previous:
            self._add(record)

    def reserve(self) -> None:
        with self._lock:
            spent_calls = self.totals.calls + self._in_flight
            if self.budget.max_calls is not None and spent_calls >= self.budget.max_calls:
                raise BudgetExceeded(f"call budget spent ({self.budget.max_calls} calls)")
            if self.budget.max_usd is not None and self.totals.cost_usd >= self.budget.max_usd:
                raise BudgetExceeded(f"dollar budget spent (${self.totals.cost_usd:.4f} of ${self.budget.max_usd:.4f})")
            self._in_flight += 1

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._add(record)

    def _add(self, record: CallRecord) -> None:
        t = self.totals
        if record.cached:
            t.cached_calls += 1
            return
        t.calls += 1
        t.input_tokens += record.input_tokens
        t.output_tokens += record.output_tokens
        t.cost_usd += record.cost_usd
        t.unpriced_calls += 0 if record.cost_known else 1
        t.llm_seconds += record.latency_s

    def snapshot(self) -> UsageTotals:
        with self._lock:
            return self.totals.model_copy()


class BudgetedClient:
    """Sits between the cache and the provider: only real calls are checked against the budget."""

    def __init__(self, inner: LLMClient, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter

    def complete(self, request: LLMRequest) -> Completion:
        self.meter.reserve()
        try:
            return self.inner.complete(request)
        finally:
            self.meter.release()


class RecordingClient:
    """Outermost layer: logs every call (cached or not) and adds it to the meter."""

    def __init__(self, inner: LLMClient, meter: Meter, sink: Callable[[CallRecord], None] | None) -> None:
        self.inner = inner
        self.meter = meter
        self.sink = sink

    def complete(self, request: LLMRequest) -> Completion:
        completion = self.inner.complete(request)
        record = CallRecord(
            role=request.role,
            model=request.model,
            prompt_id=request.prompt_id,
            request_hash=completion.request_hash or request.content_hash(),
            cached=completion.cached,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            cost_usd=0.0 if completion.cached else completion.usage.cost_usd,
            cost_known=completion.usage.cost_known,
            latency_s=0.0 if completion.cached else round(completion.latency_s, 3),
            first_latency_s=round(completion.latency_s, 3),
            first_cost_usd=completion.usage.cost_usd,
            n=request.n,
            attempt=request.attempt,
        )
        self.meter.record(record)
        if self.sink is not None:
            self.sink(record)
        return completion
