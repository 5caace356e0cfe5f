"""A scoring job: its directory, its resumable records, and what is left to do.

The directory name is a hash of the job's inputs (benchmarks, panel, judge, settings), so running
the same ``score`` command again resumes it: finished answers and verdicts are kept, and calls
that were in flight replay from the LLM cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from benchmaker.config import ModelSpec
from benchmaker.errors import ConfigError
from benchmaker.items import CallRecord, utc_now
from benchmaker.llm.factory import LocalApiBase, RoleModel, build_role_model, supports_raw_completion
from benchmaker.llm.meter import Meter
from benchmaker.paths import inside, safe_component
from benchmaker.safe_load import load_yaml
from benchmaker.scoring import calibration
from benchmaker.scoring.benchmarks import LoadedBenchmark, load_benchmark
from benchmaker.scoring.contamination import CompletionMode, ContaminationRecord, ContaminationUnit, units_for
from benchmaker.scoring.judge import JudgeRecord, JudgeUnit
from benchmaker.scoring.panel import PanelRecord, PanelUnit
from benchmaker.scoring.settings import ScoreSettings
from benchmaker.store import JsonlFile, llm_cache_dir, write_json_atomic


def _unique_names(benchmarks: list[LoadedBenchmark]) -> list[LoadedBenchmark]:
    seen: dict[str, int] = {}
    renamed = []
    for bench in benchmarks:
        count = seen.get(bench.name, 0)
        seen[bench.name] = count + 1
        renamed.append(bench if count == 0 else bench.model_copy(update={"name": f"{bench.name}#{count + 1}"}))
    return renamed


def load_reference_scores(path: Path) -> dict[str, float] | None:
    """A YAML/JSON mapping ``model -> accuracy``, or None when ``path`` is a benchmark instead."""
    if path.suffix not in {".yaml", ".yml", ".json"}:
        return None
    data = load_yaml(path, "reference scores", ConfigError)  # JSON is YAML too
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and 0 <= v <= 1 for k, v in data.items()
    ):
        raise ConfigError(f"{path}: reference scores must map model names to accuracies in [0, 1]")
    return {k: float(v) for k, v in data.items()}


class ScoreJob:
    def __init__(self, paths: list[Path], settings: ScoreSettings) -> None:
        if not paths:
            raise ConfigError("give at least one benchmark to score")
        names = [spec.model for spec in settings.panel]
        if len(set(names)) != len(names):
            raise ConfigError(f"panel models must be distinct, got {names}")
        self.settings = settings
        self.benchmarks = _unique_names([load_benchmark(p, settings.limit) for p in paths])
        self.reference_scores: dict[str, float] | None = None
        self.reference: LoadedBenchmark | None = None
        if settings.reference is not None:
            self.reference_scores = load_reference_scores(settings.reference)
            if self.reference_scores is None:
                reference = load_benchmark(settings.reference, settings.limit)
                self.reference = reference.model_copy(update={"name": f"reference:{reference.name}"})
        self.calibration_set: LoadedBenchmark | None = None
        """Trusted-key items for calibrating the judge and the panel: --calibrate, else the reference benchmark."""
        if settings.calibrate is not None:
            trusted = load_benchmark(settings.calibrate)
            self.calibration_set = trusted.model_copy(update={"name": f"trusted:{trusted.name}"})
        self.companions: dict[str, LoadedBenchmark] = {}
        """Robustness: original benchmark name -> the benchmark generated from its rewritten requirement."""
        self.job_id = self._fingerprint()
        self.dir = inside(Path(settings.outputs_dir) / "scores", self.job_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.panel_log = JsonlFile(self.dir / "panel.jsonl")
        self.judge_log = JsonlFile(self.dir / "judgments.jsonl")
        self.call_log = JsonlFile(self.dir / "llm_calls.jsonl")
        self.contamination_log = JsonlFile(self.dir / "contamination.jsonl")
        self.calibration_log = JsonlFile(self.dir / "calibration.jsonl")
        self.panel_records = {r.key: r for r in self.panel_log.read(PanelRecord)}
        self.judge_records = {r.key: r for r in self.judge_log.read(JudgeRecord)}
        self.contamination_records = {r.key: r for r in self.contamination_log.read(ContaminationRecord)}
        self.calibration_records = {r.key: r for r in self.calibration_log.read(JudgeRecord)}
        self._write_manifest(status="running")

    # -- identity --------------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        payload = {
            "settings": self.settings.model_dump(mode="json", exclude={"concurrency", "budget", "outputs_dir"}),
            "benchmarks": [[b.name, b.source, [i.id for i in b.items]] for b in self.all_benchmarks()],
            "reference_scores": self.reference_scores,
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
        # Names come from run manifests and file names: untrusted, so one safe path component.
        stem = safe_component("+".join(b.name.split(":")[0] for b in self.benchmarks), "scores", 40)
        return f"{stem}_{digest}"

    def _manifest(self) -> dict[str, Any]:
        path = self.dir / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"created_at": utc_now()}

    def _write_manifest(self, **fields: Any) -> None:
        manifest = self._manifest()
        manifest.update(
            job_id=self.job_id,
            settings=self.settings.model_dump(mode="json"),
            benchmarks=[
                {"name": b.name, "source": b.source, "kind": b.kind, "n_items": len(b.items)}
                for b in self.all_benchmarks()
            ],
            updated_at=utc_now(),
            **fields,
        )
        write_json_atomic(self.dir / "manifest.json", manifest)

    def all_benchmarks(self) -> list[LoadedBenchmark]:
        return [
            *self.benchmarks,
            *([self.reference] if self.reference else []),
            *([self.calibration_set] if self.calibration_set else []),
            *self.companions.values(),
        ]

    def answered_only(self) -> list[LoadedBenchmark]:
        """Benchmarks the panel answers for comparison only (no choices-only pass, no memorisation check)."""
        return [
            *([self.reference] if self.reference else []),
            *([self.calibration_set] if self.calibration_set else []),
            *self.companions.values(),
        ]

    def trusted(self) -> LoadedBenchmark | None:
        """The items whose keys are trusted: --calibrate, else a --reference benchmark."""
        return self.calibration_set or self.reference

    def companion_run(self, name: str) -> str | None:
        """The robustness run directory recorded for benchmark ``name`` by an earlier attempt (it must lie
        under this job's outputs directory: the manifest is a file anyone could have edited)."""
        recorded = self._manifest().get("robustness_runs", {}).get(name)
        if recorded is None:
            return None
        return str(inside(Path(self.settings.outputs_dir) / "runs", Path(recorded).resolve()))

    def companion_rewrite(self, name: str) -> str | None:
        return self._manifest().get("robustness_rewrites", {}).get(name)

    def add_companion(self, name: str, run_dir: Path, rewritten: str) -> None:
        companion = load_benchmark(run_dir, self.settings.limit)
        self.companions[name] = companion.model_copy(update={"name": f"robustness:{name}"})
        manifest = self._manifest()
        runs, rewrites = manifest.get("robustness_runs", {}), manifest.get("robustness_rewrites", {})
        self._write_manifest(
            robustness_runs={**runs, name: str(run_dir)}, robustness_rewrites={**rewrites, name: rewritten}
        )

    def needs_local_model(self) -> bool:
        return any(spec.is_local for spec in self.settings.models())

    # -- models ----------------------------------------------------------------------------------

    def open_models(self, local_api_base: LocalApiBase) -> tuple[dict[str, RoleModel], RoleModel | None, Meter]:
        meter = Meter(self.settings.budget, previous=self.call_log.read(CallRecord))

        def build(role: str, spec: ModelSpec) -> RoleModel:
            return build_role_model(
                role,
                spec,
                settings=self.settings.llm,
                meter=meter,
                sink=self.call_log.append,
                cache_dir=llm_cache_dir(self.settings.outputs_dir),
                local_api_base=local_api_base,
            )

        panel = {spec.model: build("examinee", spec) for spec in self.settings.panel}
        judge = build("judge", self.settings.judge) if self.settings.judge else None
        return panel, judge, meter

    # -- work left -------------------------------------------------------------------------------

    def panel_units(self) -> list[PanelUnit]:
        modes = ["full", "choices_only"] if self.settings.choices_only else ["full"]
        units = []
        for bench in self.all_benchmarks():
            for mode in modes:
                if mode == "choices_only" and bench in self.answered_only():
                    continue
                for item in bench.items:
                    for spec in self.settings.panel:
                        for sample in range(self.settings.samples):
                            units.append(PanelUnit(bench.name, item, spec.model, sample, mode))
        return [u for u in units if u.key not in self.panel_records]

    def requirement_for(self, bench: LoadedBenchmark) -> str | None:
        """Imported sets are judged against the requirement of the generated set they sit beside."""
        if bench.requirement:
            return bench.requirement
        if self.settings.requirement:
            return self.settings.requirement
        return next((b.requirement for b in self.benchmarks if b.requirement), None)

    def judge_units(self) -> list[JudgeUnit]:
        """Every scored benchmark and the reference: a human set joins the length-debiasing pool."""
        if self.settings.judge is None:
            return []
        units = []
        for bench in [*self.benchmarks, *([self.reference] if self.reference else [])]:
            requirement = self.requirement_for(bench)
            for item in bench.items:
                units.append(JudgeUnit(bench.name, item, "faithfulness", requirement or ""))
                if requirement:
                    units.append(JudgeUnit(bench.name, item, "alignment", requirement))
        return [u for u in units if u.key not in self.judge_records]

    def completion_modes(self) -> dict[str, CompletionMode]:
        """Per panel model: raw completion where offered (or forced), else the continue-verbatim chat prompt."""
        wanted = self.settings.contamination.mode
        return {
            spec.model: "raw_completion"
            if wanted == "raw" or (wanted == "auto" and supports_raw_completion(spec))
            else "chat_continue"
            for spec in self.settings.panel
        }

    def contamination_units(self) -> list[ContaminationUnit]:
        if not self.settings.contamination.enabled:
            return []
        modes = self.completion_modes()
        units = [u for b in self.benchmarks for u in units_for(b.name, b.items, modes, self.settings.contamination)]
        return [u for u in units if u.key not in self.contamination_records]

    def calibration_units(self) -> list[JudgeUnit]:
        trusted = self.trusted()
        if self.settings.judge is None or trusted is None:
            return []
        units = calibration.judge_units(trusted, self.settings.calibration_items, self.settings.seed)
        return [u for u in units if u.key not in self.calibration_records]

    def record_contamination(self, record: ContaminationRecord) -> None:
        if record.key not in self.contamination_records:
            self.contamination_log.append(record)
            self.contamination_records[record.key] = record

    def record_calibration(self, record: JudgeRecord) -> None:
        if record.key not in self.calibration_records:
            self.calibration_log.append(record)
            self.calibration_records[record.key] = record

    def record_panel(self, record: PanelRecord) -> None:
        if record.key not in self.panel_records:
            self.panel_log.append(record)
            self.panel_records[record.key] = record

    def record_judgment(self, record: JudgeRecord) -> None:
        if record.key not in self.judge_records:
            self.judge_log.append(record)
            self.judge_records[record.key] = record

    def finish(self, status: str, **fields: Any) -> None:
        self._write_manifest(status=status, **fields)
