"""What a run will cost before it spends anything: calls, tokens, dollars and minutes.

The method's call plan (which prompts an attempt sends, how many samples each, which role answers) comes
from the config; what each call costs, how long it takes and how many attempts an item needs come from
priors: the earlier runs of the same plan under the config's outputs dir when there are some, else the
stated defaults below. Dollars are litellm's price map for each role's model (the local model and the
scripted fake are free; a model litellm does not price has an unknown cost, never a guessed one).

Minutes: an API serves the calls of a stage together and ``concurrency`` attempts at once, so a run takes
about the setup's stages one after another plus attempts x one attempt's stages / concurrency. The
embedded model's server answers one request at a time: its minutes are the sum of every request's time.
Both are the latency the plan cannot avoid; what the client adds on top is measured by
``scripts/bench_throughput.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmaker.config import ModelSpec, RunConfig
from benchmaker.items import BenchmarkItem, CallRecord, Rejection
from benchmaker.prompts import default_library
from benchmaker.store import BENCHMARK, LLM_CALLS, MANIFEST, REJECTIONS, JsonlFile

# -- stated defaults (used when no earlier run of the plan exists) --------------------------------------

DEFAULT_ACCEPTANCE = {"direct": 0.9, "benchmaker": 0.6}
"""Share of attempts that become items."""
DEFAULT_CONFLICT_RATE = 0.2
"""Share of attempts whose solvers disagree with the key (the judge reads them twice)."""
DEFAULT_PROGRAM_FIX_RATE = 0.2
"""Share of programs that fail and are sent back once."""
DEFAULT_OUTPUT_TOKENS = {
    "benchmaker.demand_analysis": 300,
    "benchmaker.computability": 80,
    "benchmaker.propose_attributes": 500,
    "benchmaker.merge_attributes": 600,
    "benchmaker.difficulty_attributes": 500,
    "benchmaker.generate": 400,
    "benchmaker.write_program": 250,
    "benchmaker.distractors": 150,
    "benchmaker.check_draft": 150,
    "benchmaker.solve": 200,
    "benchmaker.discriminate": 300,
    "direct.generate_mcq": 200,
}
"""Output tokens per sample."""
DEFAULT_VARIABLE_TOKENS = 250
"""Input tokens a prompt's variables add to its template's text (about four characters a token)."""
API_TTFT_S, API_TOKENS_PER_S = 0.6, 80.0
"""An API call: time to first token, then the longest sample's output at this speed."""
LOCAL_PREFILL_TOKENS_PER_S, LOCAL_DECODE_TOKENS_PER_S = 100.0, 10.0
"""The embedded 1.5B model on two CPU cores."""


@dataclass
class Stage:
    """One prompt of the plan: per attempt (or once, for the setup)."""

    prompt_id: str
    role: str
    calls: float
    """Calls per attempt (an expectation: the judge is called on conflicts only)."""
    samples: float
    """Samples per call (the request's n)."""
    input_tokens: float
    """Per call (all its samples: a provider without n is sent the prompt once per sample)."""
    output_tokens: float
    """Per call, all samples together."""
    seconds: float
    """Per call, as the provider answers it."""


@dataclass
class Estimate:
    method: str
    items: int
    attempts: float
    acceptance: float
    concurrency: int
    serial: bool
    """Some role is the embedded model: its server is serial, so minutes ignore concurrency."""
    setup: list[Stage]
    per_attempt: list[Stage]
    usd: float | None
    priors: str
    """Where the per-call figures come from: the earlier runs, or the stated defaults."""
    unpriced: list[str] = field(default_factory=list)

    def _total(self, name: str) -> float:
        stages = [(s, 1.0) for s in self.setup] + [(s, self.attempts) for s in self.per_attempt]
        return sum(getattr(s, name) * s.calls * times for s, times in stages)

    @property
    def calls(self) -> float:
        return sum(s.calls for s in self.setup) + self.attempts * sum(s.calls for s in self.per_attempt)

    @property
    def input_tokens(self) -> float:
        return self._total("input_tokens")

    @property
    def output_tokens(self) -> float:
        return self._total("output_tokens")

    @property
    def minutes(self) -> float:
        if self.serial:
            return self._total("seconds") / 60
        setup = sum(s.seconds for s in self.setup if s.calls > 0)
        attempt = sum(s.seconds * min(1.0, s.calls) for s in self.per_attempt)
        return (setup + self.attempts * attempt / self.concurrency) / 60

    def line(self) -> str:
        usd = "unknown $" if self.usd is None else f"${self.usd:.4f}"
        return (
            f"estimate: ~{self.calls:.0f} calls, ~{(self.input_tokens + self.output_tokens) / 1000:.1f}k tokens, "
            f"{usd}, ~{self.minutes:.1f} min for {self.items} items (~{self.attempts:.0f} attempts at "
            f"{self.acceptance:.0%} acceptance, concurrency {1 if self.serial else self.concurrency}); "
            f"priors: {self.priors}"
        )


# -- the plan -------------------------------------------------------------------------------------------


def plan_key(config: RunConfig) -> str:
    """What makes earlier runs comparable: the config without the seed, the item count, the concurrency, the
    budget, the outputs dir and the release section (none of them changes what one attempt sends)."""
    data = config.model_dump(mode="json", exclude={"release", "seed", "concurrency", "budget", "outputs_dir"})
    data["requirement"].pop("n_items", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _call_plan(config: RunConfig) -> tuple[list[tuple[str, str, float, int]], list[tuple[str, str, float, int]]]:
    """(setup, per attempt): (prompt id, role, calls, samples per call) as the config says."""
    if config.method == "direct":
        return [], [("direct.generate_mcq", "generator", 1.0, 1)]
    b = config.benchmaker
    steps, program = b.steps, b.program
    from_file = b.attributes_file is not None
    setup: list[tuple[str, str, float, int]] = []
    if not from_file:
        if steps.demand_analysis:
            setup.append(("benchmaker.demand_analysis", "generator", 1.0, 1))
        if program.mode == "auto":
            setup.append(("benchmaker.computability", "generator", 1.0, program.computability_votes))
        if steps.attributes:
            setup.append(("benchmaker.propose_attributes", "generator", float(b.attribute_proposals), 1))
            setup.append(("benchmaker.merge_attributes", "generator", 1.0, 1))
        if steps.strategy_guidance:
            setup.append(("benchmaker.difficulty_attributes", "generator", 1.0, 1))
    attempt: list[tuple[str, str, float, int]] = [("benchmaker.generate", "generator", 1.0, b.candidates)]
    if program.mode != "off":  # auto counted as on: the estimate errs on the side of spending
        first = program.programs // 2 + 1 if program.early_stop else program.programs
        fixes = DEFAULT_PROGRAM_FIX_RATE * program.programs * min(1, program.fix_attempts)
        second = DEFAULT_CONFLICT_RATE if program.early_stop else 0.0
        attempt.append(("benchmaker.write_program", "generator", 1.0 + second + fixes, first))
        if program.order == "value_first":
            attempt.append(("benchmaker.distractors", "generator", 1.0, 1))
    if b.checks.single_question or b.checks.constraints:
        attempt.append(("benchmaker.check_draft", "judge", 1.0, b.checks.votes))
    if steps.self_test:
        attempt.append(("benchmaker.solve", "solver", 1.0, b.solver_samples))
    if steps.discrimination:
        attempt.append(("benchmaker.discriminate", "judge", 2 * DEFAULT_CONFLICT_RATE, 1))
    return setup, attempt


def _spec(config: RunConfig, role: str) -> ModelSpec:
    return getattr(config.models, role)


def _native_n(spec: ModelSpec) -> bool:
    if spec.is_local:
        return False
    if spec.is_scripted:
        return True
    from benchmaker.llm.factory import _supports_n

    return _supports_n(spec.model)


def _default_stage(config: RunConfig, prompt_id: str, role: str, calls: float, samples: int) -> Stage:
    spec = _spec(config, role)
    library = default_library()
    template_tokens = len(library.get(prompt_id).body) / 4 if prompt_id in library.templates else 300
    prompt = template_tokens + DEFAULT_VARIABLE_TOKENS
    per_sample = DEFAULT_OUTPUT_TOKENS.get(prompt_id, 300)
    if spec.max_tokens is not None:
        per_sample = min(per_sample, spec.max_tokens)
    requests = 1 if _native_n(spec) else samples
    if spec.is_local:  # one request per sample, one after another
        seconds = samples * (prompt / LOCAL_PREFILL_TOKENS_PER_S + per_sample / LOCAL_DECODE_TOKENS_PER_S)
    elif spec.is_scripted:
        seconds = 0.0
    else:  # the samples (or the requests standing in for them) are decoded side by side
        seconds = API_TTFT_S + per_sample / API_TOKENS_PER_S
    return Stage(prompt_id, role, calls, samples, prompt * requests, per_sample * samples, seconds)


# -- priors from earlier runs -------------------------------------------------------------------------------


@dataclass
class Priors:
    runs: int = 0
    attempts: int = 0
    accepted: int = 0
    setup_runs: int = 0
    calls: dict[tuple[bool, str], list[CallRecord]] = field(default_factory=lambda: defaultdict(list))
    """(a setup call?, prompt id) -> the calls made."""


def read_priors(config: RunConfig) -> Priors:
    """The earlier runs of this plan under the config's outputs dir (read only; a broken run is skipped)."""
    priors = Priors()
    runs_dir = Path(config.outputs_dir) / "runs"
    if not runs_dir.is_dir():
        return priors
    key = plan_key(config)
    from benchmaker.config import parse_config

    for run_dir in sorted(runs_dir.iterdir()):
        try:
            manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
            if plan_key(parse_config(manifest.get("config"))) != key:
                continue
            calls = JsonlFile(run_dir / LLM_CALLS, writable=False).read(CallRecord)
            items = JsonlFile(run_dir / BENCHMARK, writable=False).read(BenchmarkItem)
            rejections = JsonlFile(run_dir / REJECTIONS, writable=False).read(Rejection)
        except Exception:  # noqa: BLE001 - not a run, or one from another version: no prior from it
            continue
        attempts = {i.metadata.get("attempt") for i in items} | {r.attempt for r in rejections}
        if not attempts:
            continue
        priors.runs += 1
        priors.accepted += len(items)
        priors.attempts += len(attempts)
        priors.setup_runs += any(c.attempt is None for c in calls)
        for call in calls:
            if call.error is None:
                priors.calls[(call.attempt is None, call.prompt_id)].append(call)
    return priors


def _prior_stage(stage: Stage, calls: list[CallRecord], per: float) -> Stage:
    """The stage with its figures from the calls made (``per``: attempts, or runs, they were made for)."""
    count = len(calls)
    return Stage(
        stage.prompt_id,
        stage.role,
        count / per,
        sum(c.n for c in calls) / count,
        sum(c.input_tokens for c in calls) / count,
        sum(c.output_tokens for c in calls) / count,
        sum(c.first_latency_s for c in calls) / count,
    )


def _usd(config: RunConfig, stages: list[tuple[Stage, float]]) -> tuple[float | None, list[str]]:
    from benchmaker.llm import litellm_client  # noqa: F401, I001 - first: litellm's bundled price map, offline

    import litellm

    total, unpriced = 0.0, []
    for stage, times in stages:
        spec = _spec(config, stage.role)
        if spec.is_local or spec.is_scripted:
            continue
        try:
            prompt, completion = litellm.cost_per_token(
                model=spec.model,
                prompt_tokens=round(stage.input_tokens * stage.calls * times),
                completion_tokens=round(stage.output_tokens * stage.calls * times),
            )
        except Exception:  # noqa: BLE001 - a model litellm does not price
            if spec.model not in unpriced:
                unpriced.append(spec.model)
            continue
        total += float(prompt) + float(completion)
    return (None if unpriced else total), unpriced


def estimate(config: RunConfig, *, items: int | None = None, use_priors: bool = True) -> Estimate:
    """The estimate for ``items`` new items (default: the config's n_items)."""
    items = config.requirement.n_items if items is None else items
    setup_plan, attempt_plan = _call_plan(config)
    setup = [_default_stage(config, *planned) for planned in setup_plan]
    per_attempt = [_default_stage(config, *planned) for planned in attempt_plan]
    acceptance = DEFAULT_ACCEPTANCE[config.method]
    source = "stated defaults (no earlier run of this plan)"
    priors = read_priors(config) if use_priors else Priors()
    if priors.attempts:
        acceptance = max(priors.accepted, 1) / priors.attempts
        per_attempt = [
            _prior_stage(stage, priors.calls[(False, stage.prompt_id)], priors.attempts)
            if priors.calls.get((False, stage.prompt_id))
            else stage.__class__(**{**stage.__dict__, "calls": 0.0})  # the plan has it, the runs never sent it
            for stage in per_attempt
        ]
        setup = [
            _prior_stage(stage, priors.calls[(True, stage.prompt_id)], priors.setup_runs)
            if priors.setup_runs and priors.calls.get((True, stage.prompt_id))
            else stage
            for stage in setup
        ]
        source = f"{priors.runs} earlier run(s) of this plan ({priors.accepted} items from {priors.attempts} attempts)"
    max_attempts = items * config.generation.max_attempts_per_item
    attempts = min(items / acceptance, max_attempts) if items else 0.0
    usd, unpriced = _usd(config, [(s, 1.0) for s in setup] + [(s, attempts) for s in per_attempt])
    serial = any(_spec(config, s.role).is_local for s in [*setup, *per_attempt])
    return Estimate(
        method=config.method,
        items=items,
        attempts=attempts,
        acceptance=acceptance,
        concurrency=config.concurrency,
        serial=serial,
        setup=setup,
        per_attempt=per_attempt,
        usd=usd,
        priors=source,
        unpriced=unpriced,
    )
