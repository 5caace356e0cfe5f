"""Metering and budget: every call is counted and logged, every real call is paid for first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from benchmaker.config import Budget
from benchmaker.errors import BudgetExceeded, LLMError
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
    retries: int = 0
    """Requests that failed transiently and were sent again (each one a request the provider saw)."""
    failed_calls: int = 0
    """Calls that still failed after their retries (recorded in llm_calls.jsonl with their error)."""


@dataclass(frozen=True)
class Reservation:
    """A real call's place in the budget, held from before it is sent until it is counted."""

    usd: float


class Meter:
    """Thread-safe totals plus the budget check.

    A real call reserves its place before it is sent and the reservation becomes the counted call in
    one step (:meth:`settle`), so concurrent workers can never pass ``max_calls``. For ``max_usd`` a
    call reserves the most it can cost (its provider's bound: prompt bytes as tokens, ``max_tokens``
    per sample, at the model's price) and waits while spent plus everything reserved could pass the
    limit, until calls in flight end; it is refused once spending alone leaves no room. Calls to a
    model without a price (cost unknown) reserve nothing.
    """

    def __init__(self, budget: Budget, previous: Iterable[CallRecord] = ()) -> None:
        self.budget = budget
        self.totals = UsageTotals()
        self._in_flight = 0
        self._reserved_usd = 0.0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        for record in previous:
            self._add(record)

    def reserve(self, usd_bound: float | None = None) -> Reservation:
        """A place for one real call. When only calls in flight stand in the way (their places, or the
        most they may cost), wait for them to end: they may fail, or cost less than their bound. Raise
        BudgetExceeded once what is spent leaves no room."""
        bound = max(0.0, usd_bound or 0.0)
        with self._changed:
            while (refusal := self._refusal(bound)) is not None:
                spent_out, message = refusal
                if spent_out or self._in_flight == 0:
                    raise BudgetExceeded(message)
                self._changed.wait()
            self._in_flight += 1
            self._reserved_usd += bound
            return Reservation(bound)

    def _refusal(self, bound: float) -> tuple[bool, str] | None:
        """None when the call fits; else (whether spending alone rules it out, the message)."""
        calls, limit = self.budget.max_calls, self.budget.max_usd
        if calls is not None and self.totals.calls + self._in_flight >= calls:
            return self.totals.calls >= calls, f"call budget spent ({calls} calls)"
        if limit is not None:
            spent = self.totals.cost_usd
            if spent >= limit or spent + self._reserved_usd + bound > limit:
                message = (
                    f"dollar budget spent (${spent:.4f} paid, ${self._reserved_usd:.4f} held by calls in flight, "
                    f"up to ${bound:.4f} for this one, of ${limit:.4f})"
                )
                return spent >= limit or spent + bound > limit, message
        return None

    def cancel(self, reservation: Reservation) -> None:
        """The call failed: nothing was answered, its place is free again."""
        with self._changed:
            self._in_flight -= 1
            self._reserved_usd -= reservation.usd
            self._changed.notify_all()

    def settle(self, reservation: Reservation, completion: Completion) -> None:
        """The call was answered: its reservation becomes the counted call, atomically."""
        with self._changed:
            self._in_flight -= 1
            self._reserved_usd -= reservation.usd
            self._count(
                input_tokens=completion.usage.input_tokens,
                output_tokens=completion.usage.output_tokens,
                cost_usd=completion.usage.cost_usd,
                cost_known=completion.usage.cost_known,
                latency_s=round(completion.latency_s, 3),
                retries=completion.retries,
            )
            self._changed.notify_all()

    def record(self, record: CallRecord) -> None:
        """A call the budget layer did not settle: a cached replay, or a call that failed."""
        if not (record.cached or record.error):
            raise ValueError("a paid call is counted by settle(), when its reservation ends")
        with self._lock:
            self._add(record)

    def _add(self, record: CallRecord) -> None:
        t = self.totals
        if record.cached:
            t.cached_calls += 1
            return
        if record.error:
            t.failed_calls += 1
            t.retries += record.retries
            return
        self._count(
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cost_usd=record.cost_usd,
            cost_known=record.cost_known,
            latency_s=record.latency_s,
            retries=record.retries,
        )

    def _count(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
        cost_known: bool,
        latency_s: float,
        retries: int,
    ) -> None:
        t = self.totals
        t.calls += 1
        t.input_tokens += input_tokens
        t.output_tokens += output_tokens
        t.cost_usd += cost_usd
        t.unpriced_calls += 0 if cost_known else 1
        t.llm_seconds += latency_s
        t.retries += retries

    def snapshot(self) -> UsageTotals:
        with self._lock:
            return self.totals.model_copy()


def cost_bound(client: object, request: LLMRequest) -> float | None:
    """The most ``request`` can cost at the provider under the client stack, or None when unknown."""
    while client is not None:
        bound = getattr(client, "cost_bound", None)
        if bound is not None:
            return bound(request)
        client = getattr(client, "inner", None)
    return None


class BudgetedClient:
    """Sits between the cache and the provider: only real calls are checked against the budget."""

    def __init__(self, inner: LLMClient, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter

    def complete(self, request: LLMRequest) -> Completion:
        reservation = self.meter.reserve(cost_bound(self.inner, request) if self.meter.budget.max_usd else None)
        try:
            completion = self.inner.complete(request)
        except BaseException:
            self.meter.cancel(reservation)
            raise
        self.meter.settle(reservation, completion)
        return completion


class RecordingClient:
    """Outermost layer: logs every call (cached, paid or failed); paid ones were counted by the budget layer."""

    def __init__(self, inner: LLMClient, meter: Meter, sink: Callable[[CallRecord], None] | None) -> None:
        self.inner = inner
        self.meter = meter
        self.sink = sink

    def complete(self, request: LLMRequest) -> Completion:
        try:
            completion = self.inner.complete(request)
        except LLMError as error:
            self._log(self._failed(request, error))
            raise
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
            retries=0 if completion.cached else completion.retries,
        )
        if completion.cached:
            self.meter.record(record)
        if self.sink is not None:
            self.sink(record)
        return completion

    def _failed(self, request: LLMRequest, error: LLMError) -> CallRecord:
        return CallRecord(
            role=request.role,
            model=request.model,
            prompt_id=request.prompt_id,
            request_hash=request.content_hash(),
            cached=False,
            n=request.n,
            attempt=request.attempt,
            retries=getattr(error, "retries", 0),
            error=f"{type(error).__name__}: {error}"[:300],
        )

    def _log(self, record: CallRecord) -> None:
        self.meter.record(record)
        if self.sink is not None:
            self.sink(record)
