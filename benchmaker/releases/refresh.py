"""The library side of a refresh: which version comes next, with which seed, and how it is scored.

A refresh generates a new run from the config, scores it, and hands it to ``create_release``. Its
seed is derived from the release name, the version it aims at, and how many refreshes of that
version were already refused by their gates: every sampled request's cache key holds the seed, so
each attempt brings fresh items instead of replaying the cache, while a refresh killed halfway and
started again aims at the same version with the same seed and replays what it had already paid for.
The whole refresh runs under the release's refresh lock, so two refreshes never plan the same version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmaker.config import RunConfig, load_config_data, parse_config
from benchmaker.errors import ConfigError
from benchmaker.releases.build import ReleaseOutcome, ReleaseRequest, create_release
from benchmaker.releases.models import HistoryEntry
from benchmaker.releases.settings import ReleaseSettings
from benchmaker.releases.store import ReleaseStore
from benchmaker.scoring.settings import ScoreSettings

# Reply caps the score command uses for its panel and judge.
PANEL_MAX_TOKENS, JUDGE_MAX_TOKENS = 16, 400


def derive_seed(base_seed: int, name: str, version: int, attempt: int) -> int:
    digest = hashlib.sha256(f"refresh:{base_seed}:{name}:v{version}:attempt{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _relative_to_file(data: dict[str, Any], base: Path) -> None:
    """Relative paths a config file names (attributes file, public sets) are relative to the file."""
    section = data.get("benchmaker")
    if isinstance(section, dict) and isinstance(section.get("attributes_file"), str):
        path = Path(section["attributes_file"])
        if not path.is_absolute():
            data["benchmaker"] = {**section, "attributes_file": str(base / path)}


def load_refresh_config(path: Path, outputs_dir: Path | None = None) -> tuple[RunConfig, ReleaseSettings]:
    """The run config and its release settings (defaults when the file has no ``release:`` section)."""
    path = Path(path).resolve()
    data = load_config_data(path)
    _relative_to_file(data, path.parent)
    config = parse_config(data, source=f"config {path}")
    if outputs_dir is not None:
        config = config.model_copy(update={"outputs_dir": Path(outputs_dir)})
    settings = (config.release or ReleaseSettings()).with_against_relative_to(path.parent)
    for against in settings.against:
        if not against.is_file():
            raise ConfigError(f"invalid config {path}: release.against: no such file {against}")
    return config.model_copy(update={"release": settings}), settings


@dataclass(frozen=True)
class RefreshPlan:
    version: int
    attempt: int
    seed: int
    run_config: RunConfig


class Refresh:
    """One refresh of release ``name`` from the config file at ``config_path``."""

    def __init__(
        self,
        config_path: Path,
        name: str,
        *,
        outputs_dir: Path | None = None,
        trigger: dict[str, Any] | None = None,
    ) -> None:
        self.config, self.settings = load_refresh_config(config_path, outputs_dir)
        self.config_dir = Path(config_path).resolve().parent
        """Where relative model scripts (``scripted:FILE``) are found, as for ``benchmaker run``."""
        self.store = ReleaseStore(self.config.outputs_dir, name)
        self.name = name
        self.trigger = dict(trigger or {})

    def lock(self):  # noqa: ANN201 - a context manager
        return self.store.refresh_lock()

    def plan(self) -> RefreshPlan:
        """The next version, this attempt's seed, and the run config; recorded as ``started``."""
        version = (self.store.latest() or 0) + 1
        attempt = self.store.failed_attempts(version)
        seed = derive_seed(self.config.seed, self.name, version, attempt)
        plan = RefreshPlan(
            version=version, attempt=attempt, seed=seed, run_config=self.config.model_copy(update={"seed": seed})
        )
        self.store.append_history(
            HistoryEntry(event="started", kind="refresh", version=version, seed=seed, trigger=self.trigger)
        )
        return plan

    def score_settings(self) -> ScoreSettings:
        config, scoring = self.config, self.settings.scoring
        return ScoreSettings(
            panel=tuple(spec.model_copy(update={"max_tokens": PANEL_MAX_TOKENS}) for spec in config.models.panel),
            judge=config.models.judge.model_copy(update={"max_tokens": JUDGE_MAX_TOKENS}),
            samples=scoring.samples,
            choices_only=scoring.choices_only,
            requirement=config.requirement.description,
            embedding_model=self.settings.dedup.embedder,
            llm=config.llm,
            concurrency=config.concurrency,
            outputs_dir=config.outputs_dir,
        )

    def publish(self, plan: RefreshPlan, run_dirs: list[Path], quality_path: Path | None) -> ReleaseOutcome:
        return create_release(
            ReleaseRequest(
                name=self.name,
                run_dirs=run_dirs,
                settings=self.settings,
                outputs_dir=self.config.outputs_dir,
                quality_path=quality_path,
                kind="refresh",
                trigger=self.trigger,
                seed=plan.seed,
            )
        )

    def record_error(self, plan: RefreshPlan | None, error: BaseException) -> None:
        """A refresh that stopped on an error (or was interrupted) published nothing; say why."""
        reason = f"{type(error).__name__}: {error}".strip().rstrip(":")[:500]
        self.store.append_history(
            HistoryEntry(
                event="error",
                kind="refresh",
                version=plan.version if plan else None,
                seed=plan.seed if plan else None,
                trigger=self.trigger,
                reasons=[reason],
            )
        )
