"""What the simulated provider does with each request: how long it takes and whether it fails, and how.

Every decision is drawn from a generator seeded by (seed, the request body, how many times that same
body was seen before), so a run against the same settings meets the same faults in the same places,
whatever the threads' interleaving, and a retry of a failed request gets a fresh draw.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal[
    "rate_limit", "server_error", "reset", "slow", "truncated_json", "non_json", "empty_choices", "schema_break"
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "rate_limit", "server_error", "reset", "slow", "truncated_json", "non_json", "empty_choices", "schema_break",
)  # fmt: skip


class LatencyModel(BaseModel):
    """Seconds a reply takes: time to first token, lognormal around ``ttft_median_s`` (``ttft_sigma`` is
    the standard deviation of its log), plus the reply's output tokens at ``tokens_per_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_median_s: float = Field(default=0.0, ge=0, le=60)
    ttft_sigma: float = Field(default=0.5, ge=0, le=3)
    tokens_per_s: float = Field(default=0.0, ge=0, description="0: the reply's length adds no time.")

    def seconds(self, rng: random.Random, output_tokens: int) -> float:
        first = self.ttft_median_s
        if first > 0 and self.ttft_sigma > 0:
            first *= math.exp(rng.gauss(0.0, self.ttft_sigma))
        streaming = output_tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0
        return first + streaming


class FaultMix(BaseModel):
    """The share of requests that meet each fault (together at most 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: float = Field(default=0.0, ge=0, le=1, description="429 with a Retry-After header.")
    server_error: float = Field(default=0.0, ge=0, le=1, description="500 or 503.")
    reset: float = Field(default=0.0, ge=0, le=1, description="The connection is reset before any reply.")
    slow: float = Field(default=0.0, ge=0, le=1, description="The reply comes after slow_s: past the client's timeout.")
    truncated_json: float = Field(default=0.0, ge=0, le=1, description="200 with the JSON body cut in half.")
    non_json: float = Field(default=0.0, ge=0, le=1, description="200 with an HTML error page.")
    empty_choices: float = Field(default=0.0, ge=0, le=1, description="200 with no choices.")
    schema_break: float = Field(default=0.0, ge=0, le=1, description="200, but the content breaks the reply schema.")
    retry_after_s: float = Field(default=0.05, ge=0, le=60, description="The Retry-After of a 429.")
    slow_s: float = Field(default=2.0, ge=0, le=600, description="How late a slow reply comes.")

    @model_validator(mode="after")
    def _at_most_one(self) -> FaultMix:
        if self.total > 1 + 1e-9:
            raise ValueError(f"fault rates add up to {self.total:.3f}, more than 1")
        return self

    @property
    def total(self) -> float:
        return sum(getattr(self, kind) for kind in FAULT_KINDS)

    @classmethod
    def spread(cls, rate: float, kinds: tuple[FaultKind, ...] = FAULT_KINDS, **options: float) -> FaultMix:
        """``rate`` of all requests fail, shared equally by ``kinds``."""
        return cls(**{kind: rate / len(kinds) for kind in kinds}, **options)


class SimulationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    latency: LatencyModel = LatencyModel()
    faults: FaultMix = FaultMix()


@dataclass(frozen=True)
class Decision:
    fault: FaultKind | None
    rng: random.Random
    """Seeded for this request: the latency and the fault's details come from it too."""


def decide(settings: SimulationSettings, body_digest: str, occurrence: int) -> Decision:
    digest = hashlib.sha256(f"{settings.seed}|{body_digest}|{occurrence}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    draw = rng.random()
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += getattr(settings.faults, kind)
        if draw < edge:
            return Decision(kind, rng)
    return Decision(None, rng)
