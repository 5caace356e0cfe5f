"""Robustness: the same requirement in other words should rank the panel the same way."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from benchmaker.config import RunConfig
from benchmaker.llm.factory import RoleModel
from benchmaker.prompts import PromptLibrary
from benchmaker.store import RunStore
from benchmaker.trust import require_trusted

PROMPT_ID = "robustness.rewrite_requirement"


class Rewrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rewritten: str = Field(min_length=10)


def rewrite_requirement(rewriter: RoleModel, prompts: PromptLibrary, requirement: str, max_repairs: int) -> str:
    template = prompts.get(PROMPT_ID)
    request = rewriter.request(
        template.render(requirement=requirement),
        prompt_id=PROMPT_ID,
        temperature=0.0,
        schema=Rewrite.model_json_schema(),
        sample_key="rewrite",
    )
    return rewriter.complete_structured(request, Rewrite, max_repairs).value.rewritten.strip()


def companion_config(run_dir: Path, rewritten: str, outputs_dir: Path) -> RunConfig:
    """The original run's config with the requirement's wording changed; the companion run is written
    under the scoring job's ``outputs_dir``, never where the scored run's manifest says."""
    store = RunStore.open(run_dir)
    config = store.config()
    # The companion calls the scored run's models: not with your keys if someone else made that run.
    require_trusted(store.manifest(), config, trusted=False, action="refusing a robustness companion")
    requirement = config.requirement.model_copy(update={"description": rewritten})
    return config.model_copy(update={"requirement": requirement, "outputs_dir": Path(outputs_dir)})
