"""Step 2, AttrPrompt: general attributes (k proposals merged) and difficulty attributes.

The result is saved in the run as ``attributes.yaml``. A user may edit it and pass it back in
(``benchmaker.attributes_file``) to steer the next run; it is validated like any other input.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmaker.config import format_validation_error
from benchmaker.errors import ConfigError, LLMError, LLMFatalError, ParseError
from benchmaker.items import normalize_text
from benchmaker.llm.factory import RoleModel
from benchmaker.llm.fanout import together
from benchmaker.llm.structured import StructuredResult
from benchmaker.methods.benchmaker.calls import ask
from benchmaker.methods.benchmaker.demand import DemandAnalysis
from benchmaker.prompts import PromptLibrary
from benchmaker.safe_load import load_yaml

T = TypeVar("T", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _unique(names: list[str], what: str) -> None:
    """Names must differ once normalised; the message names the repeats, so a re-ask can fix them."""
    seen: dict[str, int] = {}
    for name in names:
        seen[normalize_text(name)] = seen.get(normalize_text(name), 0) + 1
    repeated = [f"{name!r} x{count}" for name, count in seen.items() if count > 1]
    if repeated:
        raise ValueError(f"{what} are not unique: {', '.join(repeated)}")


# Names and values are short phrases. The bounds reach llama.cpp's grammar as maxLength: without them the
# local model once opened a value's string and wrote 1,500 tokens of explanation inside it (twice in one
# merge, 6 min of a run's set-up, 2026-11-30).
NAME_CHARS, VALUE_CHARS = 80, 120


class GeneralAttribute(_Frozen):
    name: str = Field(min_length=1, max_length=NAME_CHARS)
    values: list[Annotated[str, Field(max_length=VALUE_CHARS)]] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("a value is blank")
        _unique(values, "values")
        return values


class DifficultyLevel(_Frozen):
    value: str = Field(min_length=1, max_length=VALUE_CHARS)
    coefficient: int = Field(ge=1, le=10, description="1 = easiest, 10 = hardest.")


class DifficultyAttribute(_Frozen):
    name: str = Field(min_length=1, max_length=NAME_CHARS)
    levels: list[DifficultyLevel] = Field(min_length=2)

    @model_validator(mode="after")
    def _levels(self) -> DifficultyAttribute:
        _unique([level.value for level in self.levels], "level values")
        return self

    def easy_to_hard(self) -> DifficultyAttribute:
        """Levels sorted by coefficient (stable), as the research code's parser does."""
        return self.model_copy(update={"levels": sorted(self.levels, key=lambda level: level.coefficient)})


class GeneralAttributes(_Frozen):
    """A model's reply. Names may repeat (small models repeat them even when re-asked):
    ``merge_repeats`` resolves that after parsing, and says so."""

    attributes: list[GeneralAttribute] = Field(min_length=1)


class DifficultyAttributes(_Frozen):
    """A model's reply; repeated names are resolved by ``first_of_repeats``."""

    attributes: list[DifficultyAttribute] = Field(min_length=1)


class AttributeSet(_Frozen):
    """What ``attributes.yaml`` holds."""

    demand: DemandAnalysis | None = None
    general: list[GeneralAttribute] = Field(default_factory=list)
    difficulty: list[DifficultyAttribute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> AttributeSet:
        _unique([a.name for a in self.general], "general attribute names")
        _unique([a.name for a in self.difficulty], "difficulty attribute names")
        return self


def with_minimum(model: type[BaseModel], minimum: int) -> type[BaseModel]:
    """The reply model with ``attributes`` required to hold at least ``minimum`` entries."""
    from pydantic import create_model

    item = model.model_fields["attributes"].annotation
    return create_model(
        f"{model.__name__}Min{minimum}",
        __base__=model,
        attributes=(item, Field(min_length=minimum)),
    )


# Attribute lists are the longest replies of the method; a cap sized for one question cuts them.
ATTRIBUTE_REPLY_TOKENS = 1500


def _ask_for_list(
    model: RoleModel,
    prompts: PromptLibrary,
    prompt_id: str,
    variables: dict[str, Any],
    reply_model: type[T],
    *,
    seed: int,
    sample_key: str,
    max_repairs: int,
    resamples: int = 0,
) -> StructuredResult[T]:
    """Every AttrPrompt call: sampled at temperature 1 (as the paper), with room for a long list.

    ``resamples``: fresh samples (other seeds) after a reply that still fails validation once repaired. A
    seeded reply repeats itself under repair: the local model wrote the schema's placeholder ("value") as
    every level three times over, and the run died at its setup.
    """
    for extra in range(resamples + 1):
        try:
            return ask(
                model,
                prompts,
                prompt_id,
                variables,
                reply_model,
                temperature=1.0,
                seed=seed + RESAMPLE_SEED_STEP * extra,
                sample_key=sample_key,
                max_repairs=max_repairs,
                min_tokens=ATTRIBUTE_REPLY_TOKENS,
            )
        except ParseError:
            if extra == resamples:
                raise
    raise AssertionError("unreachable")


RESAMPLE_SEED_STEP = 7919
"""Seed offset of each fresh sample of a run-level step (a prime: never another step's seed by accident)."""
RUN_LEVEL_RESAMPLES = 2
"""Fresh samples the difficulty step gets after a reply that fails validation (a failed merge already falls
back to the union of the proposals; nothing stands in for the difficulty attributes)."""


def _without_difficulty(attributes: list[GeneralAttribute]) -> list[GeneralAttribute]:
    # Difficulty is steered by the strategy bank; a general "difficulty" attribute would contradict it.
    return [a for a in attributes if normalize_text(a.name) != "difficulty"]


def propose_general(
    model: RoleModel,
    prompts: PromptLibrary,
    demand: DemandAnalysis,
    *,
    proposals: int,
    minimum: int,
    seed: int,
    max_repairs: int,
) -> tuple[list[list[GeneralAttribute]], list[str]]:
    """k independent proposals, and notes: a proposal that fails is skipped with its reason, not fatal."""
    reply_model = with_minimum(GeneralAttributes, min(minimum, 6))
    found: list[list[GeneralAttribute]] = []
    notes: list[str] = []

    def propose(k: int) -> Any:
        try:
            return _ask_for_list(
                model,
                prompts,
                "benchmaker.propose_attributes",
                {
                    "task": demand.task,
                    "question_content": demand.question_content,
                    "answer_choices": demand.answer_choices,
                    "constraints": demand.constraints,
                    "min_attributes": min(minimum, 6),
                },
                reply_model,
                seed=seed + k,
                sample_key=f"proposal={k}",
                max_repairs=max_repairs,
            )
        except LLMFatalError:
            raise
        except LLMError as error:
            return error

    # Independent proposals: together for an API, one after another for the serial local server.
    results = together([partial(propose, k) for k in range(proposals)], parallel=model.parallel)
    for k, result in enumerate(results):
        if isinstance(result, LLMError):
            notes.append(f"skipped proposal {k}: {result}"[:300])
            continue
        attributes, merged = merge_repeats(_without_difficulty(result.value.attributes), f"proposal {k}")
        found.append(attributes)
        notes += merged
    return found, notes


def merge_general(
    model: RoleModel,
    prompts: PromptLibrary,
    demand: DemandAnalysis,
    proposals: list[list[GeneralAttribute]],
    *,
    minimum: int,
    seed: int,
    max_repairs: int,
) -> tuple[list[GeneralAttribute], list[str]]:
    """The consolidated attributes, and notes. Raises ParseError or LLMError."""
    result = _ask_for_list(
        model,
        prompts,
        "benchmaker.merge_attributes",
        {
            "task": demand.task,
            "proposals": [[a.model_dump() for a in proposal] for proposal in proposals],
            "constraints": demand.constraints,
            "min_attributes": minimum,
        },
        with_minimum(GeneralAttributes, minimum),
        seed=seed,
        sample_key="merge",
        max_repairs=max_repairs,
    )
    return merge_repeats(_without_difficulty(result.value.attributes), "merge")


def merge_repeats(attributes: list[GeneralAttribute], where: str) -> tuple[list[GeneralAttribute], list[str]]:
    """One attribute per normalised name, values united; a note when anything was merged."""
    merged = union_of_proposals([attributes])
    if len(merged) == len(attributes):
        return attributes, []
    return merged, [f"{where}: merged {len(attributes) - len(merged)} repeated attribute name(s)"]


def first_of_repeats(attributes: list[DifficultyAttribute], where: str) -> tuple[list[DifficultyAttribute], list[str]]:
    """The first attribute of each normalised name (coefficients of repeats may disagree); noted."""
    kept: dict[str, DifficultyAttribute] = {}
    for attribute in attributes:
        kept.setdefault(normalize_text(attribute.name), attribute)
    dropped = len(attributes) - len(kept)
    return list(kept.values()), [f"{where}: dropped {dropped} repeated attribute name(s)"] if dropped else []


def union_of_proposals(proposals: list[list[GeneralAttribute]]) -> list[GeneralAttribute]:
    """The deterministic consolidation used when the model's merge fails: attributes with the same
    normalised name are one attribute whose values are the union, in first-seen order."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for proposal in proposals:
        for attribute in proposal:
            name, values = merged.setdefault(normalize_text(attribute.name), (attribute.name, []))
            known = {normalize_text(v) for v in values}
            values.extend(v for v in attribute.values if normalize_text(v) not in known)
    return [GeneralAttribute(name=name, values=values) for name, values in merged.values()]


def propose_difficulty(
    model: RoleModel, prompts: PromptLibrary, demand: DemandAnalysis, *, minimum: int, seed: int, max_repairs: int
) -> tuple[list[DifficultyAttribute], list[str]]:
    """The difficulty attributes (levels easy to hard), and notes. Raises ParseError or LLMError."""
    result = _ask_for_list(
        model,
        prompts,
        "benchmaker.difficulty_attributes",
        {
            "task": demand.task,
            "question_content": demand.question_content,
            "constraints": demand.constraints,
            "min_attributes": minimum,
        },
        with_minimum(DifficultyAttributes, minimum),
        seed=seed,
        sample_key="difficulty",
        max_repairs=max_repairs,
        resamples=RUN_LEVEL_RESAMPLES,
    )
    attributes, notes = first_of_repeats(result.value.attributes, "difficulty attributes")
    return [a.easy_to_hard() for a in attributes], notes


def save_attributes(path: Path, attributes: AttributeSet) -> None:
    header = (
        "# Attributes of this run (BenchMaker AttrPrompt). Edit and pass back with\n"
        "#   benchmaker:\n#     attributes_file: <this file>\n"
        "# to steer the next run. Difficulty coefficients run from 1 (easiest) to 10 (hardest).\n"
    )
    body = yaml.safe_dump(attributes.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(header + body, encoding="utf-8")
    tmp.replace(path)


def load_attributes(path: Path) -> AttributeSet:
    data = load_yaml(Path(path), "attributes file", ConfigError)  # bounded: no alias bomb, one-line errors
    if not isinstance(data, dict):
        raise ConfigError(f"invalid attributes file {path}: expected a mapping at the top level")
    try:
        loaded = AttributeSet.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"invalid attributes file {path}: {format_validation_error(error)}") from None
    return loaded.model_copy(update={"difficulty": [a.easy_to_hard() for a in loaded.difficulty]})
