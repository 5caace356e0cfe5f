"""Run configuration: pydantic models loaded from YAML, validated whole before any token is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmaker.errors import ConfigError
from benchmaker.releases.settings import ReleaseSettings
from benchmaker.secrets import key_like_fields, url_problem

MAX_OPTIONS = 10
LETTERS = "ABCDEFGHIJ"

# Model names with a built-in meaning; anything else is handed to litellm as a model string.
LOCAL_MODEL = "local"
SCRIPTED_MODEL = "scripted"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True)


class Requirement(_Strict):
    """What the benchmark must test, in the user's words."""

    description: str = Field(min_length=1, description="Free-text assessment demand.")
    n_options: int = Field(default=4, ge=2, le=MAX_OPTIONS, description="Options per question.")
    n_items: int = Field(gt=0, le=100_000, description="Target number of accepted items.")
    language: str = Field(default="English", min_length=1, description="Language of the items.")


class ModelSpec(_Strict):
    """One model a role uses. A bare string in YAML is shorthand for ``{model: <string>}``.

    ``model`` is ``local`` (the embedded Qwen2.5-Coder-1.5B), ``scripted`` or ``scripted:<file.yaml>``
    (the deterministic fake), or any litellm model string such as ``openai/gpt-4o-mini``.
    """

    model: str = Field(min_length=1, description="local, scripted[:file.yaml], or a litellm model string.")
    api_base: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server (no credentials).")
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the key (never the key)."
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Overrides the temperature each step asks for (null: the step's own)."
    )
    max_tokens: int | None = Field(default=700, gt=0, description="Reply-length cap per completion.")
    timeout_s: float = Field(default=300, gt=0, description="Seconds before a call is abandoned (then retried).")
    response_format: Literal["auto", "json_schema", "json_object_schema", "json_object", "none"] = Field(
        default="auto",
        description="How the reply's JSON shape is asked for; auto picks what the provider supports "
        "(llama.cpp: json_object with the schema).",
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="Extra litellm completion kwargs.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"model": value}
        if isinstance(value, dict) and "api_key" in value:
            raise ValueError(
                "api_key is not accepted in config; put the key in an environment variable and name it in api_key_env"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _no_secrets_in_extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The config is written to manifest.json and Prefect's database: no credential may ride along.
        found = list(key_like_fields(value))
        if found:
            raise ValueError(
                f"{', '.join(found[:3])} looks like a credential; keys are never accepted in config: put the key "
                "in an environment variable and name it in api_key_env"
            )
        for endpoint in ("api_base", "base_url"):
            if endpoint in value:
                raise ValueError(f"{endpoint} belongs in the role's own api_base field, not in extra")
        return value

    @field_validator("api_base")
    @classmethod
    def _no_credentials_in_url(cls, value: str | None) -> str | None:
        if value is not None and (problem := url_problem(value)):
            raise ValueError(problem)
        return value

    @property
    def is_local(self) -> bool:
        return self.model == LOCAL_MODEL

    @property
    def is_scripted(self) -> bool:
        return self.model == SCRIPTED_MODEL or self.model.startswith(SCRIPTED_MODEL + ":")


class ModelRoles(_Strict):
    """Which model plays each role. Unknown role names are rejected."""

    generator: ModelSpec = ModelSpec(model=LOCAL_MODEL)
    solver: ModelSpec = ModelSpec(model=LOCAL_MODEL)
    judge: ModelSpec = ModelSpec(model=LOCAL_MODEL)
    panel: tuple[ModelSpec, ...] = Field(default=(ModelSpec(model=LOCAL_MODEL),), min_length=1)

    def all_specs(self) -> list[ModelSpec]:
        return [self.generator, self.solver, self.judge, *self.panel]


class GenerationSettings(_Strict):
    """Bounds on the generation loop."""

    max_attempts_per_item: int = Field(
        default=3, ge=1, le=20, description="The run stops after n_items x this many attempts."
    )
    max_rejection_ratio: float = Field(
        default=0.9, gt=0, le=1, description="Stop once rejected/attempted exceeds this ..."
    )
    min_attempts_for_ratio: int = Field(default=8, ge=1, description="... after at least this many.")
    max_repairs: int = Field(default=2, ge=0, le=5, description="Re-asks when a reply fails its schema.")
    temperature: float = Field(default=1.0, ge=0, le=2, description="The generator's sampling temperature.")


class BenchMakerSteps(_Strict):
    """Each step of the BenchMaker method, switchable for ablations."""

    demand_analysis: bool = Field(
        default=True, description="The requirement restated as task, content, choices, constraints."
    )
    attributes: bool = Field(default=True, description="AttrPrompt: sampled general attribute values.")
    strategy_guidance: bool = Field(default=True, description="Difficulty strategies, harder as the run goes on.")
    stepwise: bool = Field(default=True, description="The staged self-correcting generation prompt.")
    diversity: bool = Field(
        default=True,
        description="In-batch diversity boosting: keep the candidate adding the most word entropy "
        "(duplicates of accepted items are dropped either way; near_duplicate_threshold 1.0 keeps near ones).",
    )
    self_test: bool = Field(default=True, description="Difficulty labels from the solver's error rate.")
    discrimination: bool = Field(default=True, description="Conflict-guided contrastive discrimination.")
    diffusion: bool = Field(default=True, description="Hardest earlier items as references to beat.")


class SandboxLimits(_Strict):
    """What one answer-key program may use; beyond any of these its run fails (and the item is rejected)."""

    cpu_seconds: float = Field(default=2.0, gt=0, le=60)
    """RLIMIT_CPU of the program, rounded up to whole seconds (at least 1), on top of the child's startup."""
    wall_seconds: float = Field(default=10.0, gt=0, le=300)
    """After this the parent kills the child's whole process group."""
    memory_mb: int = Field(default=256, gt=0, le=8192)
    """RLIMIT_AS of the child (its whole address space, interpreter included)."""
    max_output_chars: int = Field(default=10_000, gt=0, le=1_000_000)
    """Printed text kept; printing more fails the run with "output_limit"."""


class ProgramVerification(_Strict):
    """Program-verified answer keys: for computable questions the generator also writes programs that
    compute the answer from the question's givens; a sandbox runs them, and a value counts as computed
    only when a strict majority of them agree on it. A key is kept only when that value and another
    derivation (the generator's own worked value, or the judge) agree."""

    mode: Literal["auto", "on", "off"] = Field(
        default="auto", description="auto: demand analysis decides whether the answers are computable."
    )
    order: Literal["options_first", "value_first"] = Field(
        default="options_first",
        description="options_first: the generator writes the question with its choices, then programs check the "
        "key (the paper's order). value_first: the generator writes the question and its own value, programs "
        "compute the value, and the choices are built around the value they agree on (distractors from typical "
        "mistakes); the generator's value, or else the solvers' majority, must confirm it.",
    )
    programs: int = Field(
        default=3,
        ge=1,
        le=9,
        description="Programs sampled per draft, each from the question alone with its own seed; a value counts "
        "as computed only when a strict majority of them agree on it (1: a single program decides, the old policy).",
    )
    early_stop: bool = Field(
        default=True,
        description="Ask for a bare majority of the programs first and for the rest only when those disagree "
        "(the record says how many were skipped).",
    )
    on_split: Literal["reject", "discriminate"] = Field(
        default="reject",
        description="When no value has a majority of the programs: reject (programs_disagree), or let the judge "
        "choose between the two options the programs point to most (the key is then judge-backed, not program-backed).",
    )
    on_disagreement: Literal["discriminate", "reject"] = Field(
        default="discriminate",
        description="When the computed value is another option than the key and the generator's own value does not "
        "back it: the judge compares the key's solution with the programs' (kept only if it confirms the computed "
        "option twice), or reject outright. With steps.discrimination off, such a draft is always rejected.",
    )
    generator_value: bool = Field(
        default=True,
        description="The generator also writes its own final value, apart from the option letter; it is the second "
        "derivation a computed value must agree with before options are repaired or a slipped letter is corrected.",
    )
    repair_options: Literal["off", "confirmed", "unconfirmed"] = Field(
        default="confirmed",
        description="When no option equals the computed value: off = reject; confirmed = write the value in over a "
        "distractor only when the generator's own final value equals it (it computed right and wrote the options "
        "wrong), else reject program_unconfirmed; unconfirmed = write it in on the programs' word alone (the old "
        "policy). An option equal to the generator's own value is never replaced.",
    )
    computability_votes: int = Field(
        default=5, ge=1, le=15, description="mode auto: samples of the computability question; the majority decides."
    )
    fix_attempts: int = Field(
        default=1,
        ge=0,
        le=3,
        description="Times a failing program is sent back with its error to be fixed (sampled at temperature "
        ">= 0.8: a greedy model repeats its program).",
    )
    temperature: float = Field(
        default=0.7,
        ge=0,
        le=2,
        description="Sampling temperature of the programs; above 0 whenever programs > 1, or they are one program.",
    )
    rel_tolerance: float = Field(default=1e-6, gt=0, lt=1, description="Relative tolerance of a numeric match.")
    limits: SandboxLimits = SandboxLimits()
    allow_weaker_isolation: bool = Field(
        default=False,
        description="Run answer-key programs even where the sandbox cannot put up every layer: a network "
        "namespace (needs a working `unshare`) and a separate unprivileged user (needs root, which switches "
        "the child to nobody). Without them an escaped program could reach the network, or read what this user "
        "can read (the parent's environment, API keys included). Off: such a machine refuses program "
        "verification. The layers that ran are recorded in the manifest either way.",
    )

    @model_validator(mode="after")
    def _independent_samples(self) -> ProgramVerification:
        if self.programs > 1 and self.temperature == 0:
            raise ValueError("programs > 1 needs temperature > 0: greedy samples are one program written k times")
        return self


KeyEvidence = Literal[
    "program+generator", "program+judge", "program+solvers", "program", "generator+solvers", "judge", "generator"
]
"""How an item's key is supported, strongest first:
program+generator  a majority of programs computed the key's value, and the generator's key (letter, or its own
                   final value when the letter slipped or the options were repaired) says the same;
program+judge      a majority of programs computed the key's value and the judge confirmed it twice, against the
                   generator's solution;
program+solvers    (order value_first) choices built around the programs' majority value, which the solvers'
                   majority then chose (the generator's own value differed);
program            the programs alone (options repaired with repair_options: unconfirmed);
generator+solvers  the generator's key is the solvers' most frequent answer (no program ran);
judge              the judge named the key twice in swapped orders (solver conflict, or split programs);
generator          the generator's word alone (self test-taking off, or a conflict nobody resolved).
Human review adds ``human``."""


class SolverSampling(_Strict):
    """How many solver answers self test-taking asks for. ``fixed``: ``solver_samples`` in one request (the
    paper). ``adaptive``: ``first`` answers, then ``step`` more at a time up to ``solver_samples``, stopping as
    soon as the answers still to come would change neither the decision (conflict, unparsable, the solvers'
    majority) nor the difficulty label's bin, with probability at least ``confidence`` (the rest predicted from
    the answers so far, under a Jeffreys Dirichlet prior over the options and "unparsable")."""

    mode: Literal["fixed", "adaptive"] = Field(default="fixed", description="fixed (the paper) or adaptive.")
    first: int = Field(default=5, ge=1, le=64, description="adaptive: answers asked for first.")
    step: int = Field(default=5, ge=1, le=64, description="adaptive: answers added per further round.")
    confidence: float = Field(
        default=0.8, gt=0.5, lt=1, description="adaptive: stop once the outcome is settled with this probability."
    )
    bin_edges: tuple[float, ...] = Field(
        default=(3.0, 7.0),
        description="Difficulty labels (1 + 10 x error rate) up to each edge form a bin: easy <= 3 < medium <= 7 < "
        "hard, by default. adaptive stops only once the label's bin is settled.",
    )

    @field_validator("bin_edges")
    @classmethod
    def _ascending(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if list(value) != sorted(set(value)) or any(not 1 < edge < 11 for edge in value):
            raise ValueError("bin edges must be strictly ascending, between 1 and 11")
        return value


class DraftChecks(_Strict):
    """Checks that every draft is what the requirement asked for, before the solvers are paid."""

    single_question: bool = Field(
        default=True,
        description="Reject a question that asks for more than one thing (e.g. a quantity and which reagent is "
        "limiting), first by its wording, then by a focused question to the judge.",
    )
    constraints: bool = Field(
        default=True,
        description="Reject a draft that breaks an explicit constraint of the requirement (found by demand analysis, "
        "editable in attributes.yaml), or whose options do not answer what is asked (a focused question to the judge).",
    )
    votes: int = Field(
        default=3,
        ge=1,
        le=9,
        description="Readings of each draft by the judge; a finding turns a draft down only with a strict majority "
        "(one reading by the 1.5B judge flagged a one-step question as asking several things).",
    )


class BenchMakerSettings(_Strict):
    """The BenchMaker method's knobs; defaults are the paper's."""

    steps: BenchMakerSteps = BenchMakerSteps()
    attribute_proposals: int = Field(default=5, ge=1, le=20, description="Independent AttrPrompt proposals.")
    min_general_attributes: int = Field(default=8, ge=1, le=30, description="AttrPrompt keeps at least this many.")
    min_difficulty_attributes: int = Field(
        default=6, ge=1, le=20, description="Difficulty attributes (levels with coefficients 1-10) for the strategy."
    )
    attributes_file: Path | None = Field(
        default=None, description="An attributes.yaml from an earlier run (possibly edited): skips AttrPrompt."
    )
    candidates: int = Field(default=5, ge=1, le=16, description="Candidates per attempt (the provider's n).")
    references: int = Field(default=8, ge=1, le=32, description="Diffusion references per attempt (pool 2x).")
    solver_samples: int = Field(default=10, ge=1, le=64, description="Self test-taking answers per item.")
    solver_temperature: float = Field(default=1.0, ge=0, le=2, description="Self test-taking samples' temperature.")
    solver_sampling: SolverSampling = SolverSampling()
    judge_temperature: float = Field(default=0.0, ge=0, le=2, description="The contrastive judge's temperature.")
    discrimination_trigger: Literal["majority", "any"] = Field(
        default="majority",
        description="When the judge is called: the solvers' majority is not the key (the paper), "
        "or any solver chose another option (catches wrong keys the majority shares less often).",
    )
    near_duplicate_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Cosine similarity above which a candidate duplicates an item."
    )
    embedder: str = Field(
        default="all-MiniLM-L6-v2", min_length=1, description="A sentence-transformers model, or hashing (the fake)."
    )
    program: ProgramVerification = ProgramVerification()
    checks: DraftChecks = DraftChecks()
    key_evidence: Literal["auto"] | tuple[KeyEvidence, ...] = Field(
        default="auto",
        description="The evidence levels an accepted key may have; a draft whose key has another is rejected "
        "(evidence_not_accepted). auto: program-backed levels only when keys are verified by program, else any.",
    )

    @model_validator(mode="after")
    def _discrimination_needs_solver(self) -> BenchMakerSettings:
        if self.steps.discrimination and not self.steps.self_test:
            raise ValueError("steps.discrimination needs steps.self_test: conflicts come from the solver's answers")
        return self


class LLMSettings(_Strict):
    """Calls to the models: retries and the response cache."""

    max_retries: int = Field(default=4, ge=0, le=10, description="Retries on transient errors only.")
    max_backoff_s: float = Field(
        default=60, gt=0, description="Longest wait between retries (Retry-After is honoured)."
    )
    cache: bool = Field(default=True, description="Answer repeated requests from the run's response cache.")


class Budget(_Strict):
    """Hard caps; a run that reaches one stops cleanly and can be resumed with a larger budget."""

    max_calls: int | None = Field(default=None, gt=0, description="Real (uncached) calls, across resumes.")
    max_usd: float | None = Field(default=None, gt=0, description="Dollars by litellm's price map, across resumes.")


class RunConfig(_Strict):
    """Everything that defines a generation run."""

    requirement: Requirement
    models: ModelRoles = ModelRoles()
    method: Literal["benchmaker", "direct"] = Field(
        default="benchmaker", description="benchmaker (the full method) or direct (the paper's baseline)."
    )
    benchmaker: BenchMakerSettings = BenchMakerSettings()
    generation: GenerationSettings = GenerationSettings()
    llm: LLMSettings = LLMSettings()
    budget: Budget = Budget()
    concurrency: int = Field(
        default=1, ge=1, le=64, description="Attempts in parallel (keep 1 for local: its server is serial)."
    )
    seed: int = Field(default=0, description="Part of every sampled request: change it for fresh items.")
    outputs_dir: Path = Field(default=Path("outputs"), description="Where runs, scores and the cache are written.")
    release: ReleaseSettings | None = Field(
        default=None,
        description="Release and refresh settings (anchors, dedup, gates); not part of the run's config hash.",
    )

    @field_validator("outputs_dir")
    @classmethod
    def _non_empty_path(cls, value: Path) -> Path:
        if not str(value):
            raise ValueError("must not be empty")
        return value


def format_validation_error(error: ValidationError) -> str:
    """One line naming every offending field, without echoing secrets or whole inputs."""
    parts = []
    for err in error.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def parse_config(data: Any, source: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"invalid {source}: expected a mapping at the top level")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"invalid {source}: {format_validation_error(error)}") from None


def load_config_data(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a plain dict (not yet validated); bounded against alias bombs."""
    from benchmaker.safe_load import load_yaml

    data = load_yaml(path, "config", ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {path}: expected a mapping at the top level")
    return data


def load_config(path: Path) -> RunConfig:
    return parse_config(load_config_data(path), source=f"config {path}")


# Role settings that mean the same for any model; the others (api_base, keys, dialect) belong to one provider.
_PORTABLE_ROLE_SETTINGS = ("temperature", "max_tokens", "timeout_s")


def _with_model(spec: Any, model: str) -> Any:
    """A role switched to ``model``, keeping its portable settings (a reply-length cap, a timeout)."""
    if not isinstance(spec, dict):
        return model
    kept = {key: spec[key] for key in _PORTABLE_ROLE_SETTINGS if key in spec}
    return {"model": model, **kept} if kept else model


def apply_overrides(
    data: dict[str, Any],
    *,
    requirement: str | None = None,
    n_items: int | None = None,
    model: str | None = None,
    method: str | None = None,
    attributes_file: Path | None = None,
) -> dict[str, Any]:
    """Layer command-line flags over config data; the result is validated by ``parse_config``.

    ``model`` sets every role at once (a panel of one), keeping each role's portable settings.
    """
    merged = {**data}
    req = dict(merged.get("requirement") or {})
    if requirement is not None:
        req["description"] = requirement
    if n_items is not None:
        req["n_items"] = n_items
    if req or "requirement" in merged:
        merged["requirement"] = req
    if model is not None:
        roles = merged.get("models") or {}
        panel = roles.get("panel") or [None]
        merged["models"] = {
            "generator": _with_model(roles.get("generator"), model),
            "solver": _with_model(roles.get("solver"), model),
            "judge": _with_model(roles.get("judge"), model),
            "panel": [_with_model(spec, model) for spec in panel[:1]],
        }
    if method is not None:
        merged["method"] = method
    if attributes_file is not None:
        merged["benchmaker"] = {**(merged.get("benchmaker") or {}), "attributes_file": str(attributes_file.resolve())}
    return merged
