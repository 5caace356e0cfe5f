"""What every generation method receives and must provide."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from benchmaker.config import RunConfig
from benchmaker.errors import BenchmakerError
from benchmaker.items import BenchmarkItem, Draft, Rejection
from benchmaker.llm.factory import RoleModel
from benchmaker.prompts import PromptLibrary
from benchmaker.store import RunStore


class MethodSetupError(BenchmakerError):
    """A run-level step (demand analysis, attributes) failed: no item can be generated without it."""


@dataclass(frozen=True)
class GenerationContext:
    config: RunConfig
    models: dict[str, RoleModel]
    """Only the roles the method declares in ``roles``."""
    prompts: PromptLibrary
    store: RunStore | None = None
    """Where a method keeps run-level state that must survive a resume; None for throwaway runs."""


class Method(Protocol):
    name: str
    prompt_ids: tuple[str, ...]
    wave_factor: int
    """Attempts per worker in a wave: 1 for methods that learn from the items accepted so far."""

    @staticmethod
    def required_roles(config: RunConfig) -> tuple[str, ...]:
        """The model roles the method calls under ``config``; only these are built."""
        ...

    def prompt_refs(self) -> dict[str, str]:
        """``id -> id@version#sha`` of every template the method uses (for the manifest)."""
        ...

    def prepare(self, accepted: Sequence[BenchmarkItem]) -> None:
        """Run-level work before the first attempt (idempotent: a resume reloads it, paying nothing).

        Raises:
            MethodSetupError: when the run cannot go on.
        """
        ...

    def generate(self, attempt: int, accepted: Sequence[BenchmarkItem], slot: int) -> Draft | Rejection:
        """One attempt, seeing the items accepted so far; ``slot`` is the index of the item it fills.

        Item failures are returned, never raised.
        """
        ...

    def admit(self, draft: Draft) -> Rejection | None:
        """The last check before a draft becomes an item, called under the session's lock."""
        ...


def attempt_seed(run_seed: int, attempt: int, purpose: str = "") -> int:
    """A per-attempt seed that is stable across resumes and independent of scheduling order."""
    digest = hashlib.sha256(f"{run_seed}:{attempt}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
