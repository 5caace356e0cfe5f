"""What every generation method receives and must provide."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from benchmaker.config import RunConfig
from benchmaker.items import Draft, Rejection
from benchmaker.llm.factory import RoleModel
from benchmaker.prompts import PromptLibrary


@dataclass(frozen=True)
class GenerationContext:
    config: RunConfig
    models: dict[str, RoleModel]
    """Only the roles the method declares in ``roles``."""
    prompts: PromptLibrary


class Method(Protocol):
    name: str
    roles: tuple[str, ...]
    """The model roles the method calls; only these are built (and only these start the local model)."""

    def prompt_refs(self) -> dict[str, str]:
        """``id -> id@version#sha`` of every template the method uses (for the manifest)."""
        ...

    def generate(self, attempt: int) -> Draft | Rejection:
        """One attempt. Item failures are returned as a Rejection, never raised."""
        ...


def attempt_seed(run_seed: int, attempt: int, purpose: str = "") -> int:
    """A per-attempt seed that is stable across resumes and independent of scheduling order."""
    digest = hashlib.sha256(f"{run_seed}:{attempt}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
