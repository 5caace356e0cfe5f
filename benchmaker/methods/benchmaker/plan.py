"""An attempt's plan: everything sampled before its first call, persisted so a resume replays it.

Plans are written to ``plans.jsonl`` before the attempt calls a model. A resumed attempt reuses its
plan, so its prompts are byte-identical and its calls come from the cache; the diffusion usage
counts are the references named in the plans, so they survive a resume too.
"""

from __future__ import annotations

import threading
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.store import RunStore

PLANS = "plans.jsonl"


class AttemptPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt: int = Field(ge=0)
    slot: int = Field(ge=0, description="Index of the item this attempt fills (accepted + in flight at its start).")
    bin: int | None = Field(default=None, description="Difficulty-strategy bin, floor(10 * slot / N).")
    general: dict[str, str] = Field(default_factory=dict, description="One sampled value per general attribute.")
    strategy: dict[str, str] = Field(default_factory=dict, description="Difficulty attribute -> value.")
    strategy_score: int | None = None
    references: list[str] = Field(default_factory=list, description="Ids of the diffusion references shown.")


class PlanBook:
    """The plans of one run; in memory only when the method runs without a store."""

    def __init__(self, store: RunStore | None) -> None:
        self._file = store.jsonl(PLANS) if store is not None else None
        self._lock = threading.Lock()
        self.plans: dict[int, AttemptPlan] = {}
        if self._file is not None:
            for plan in self._file.read(AttemptPlan):
                self.plans[plan.attempt] = plan

    def get(self, attempt: int) -> AttemptPlan | None:
        with self._lock:
            return self.plans.get(attempt)

    def usage(self) -> Counter[str]:
        with self._lock:
            return Counter(ref for plan in self.plans.values() for ref in plan.references)

    def add(self, plan: AttemptPlan) -> AttemptPlan:
        """Store a new plan; if another thread planned the same attempt first, theirs wins."""
        with self._lock:
            if plan.attempt in self.plans:
                return self.plans[plan.attempt]
            if self._file is not None:
                self._file.append(plan)
            self.plans[plan.attempt] = plan
            return plan
