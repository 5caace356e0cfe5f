"""The scoring flow: panel answers and judge verdicts fan out as tasks; the library builds the report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped
from tqdm import tqdm

from benchmaker.embeddings import embedding_cache_dir, make_embedder
from benchmaker.llm.factory import RoleModel
from benchmaker.prompts import PromptLibrary
from benchmaker.scoring.contamination import ContaminationRecord, ContaminationSettings, ContaminationUnit, run_unit
from benchmaker.scoring.html_report import write_report
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.judge import JudgeRecord, JudgeUnit, judge_unit
from benchmaker.scoring.panel import PanelRecord, PanelUnit, answer_unit
from benchmaker.scoring.quality import build_report
from benchmaker.scoring.robustness import companion_config, rewrite_requirement
from benchmaker.scoring.schema import QualityReport
from benchmaker.scoring.settings import ScoreSettings
from benchmaker.store import write_json_atomic
from flows._local import local_endpoint
from flows.generate import generate_benchmark


@task(name="panel-answer", cache_policy=NO_CACHE, persist_result=False)
def panel_answer(
    unit: PanelUnit, panel: dict[str, RoleModel], prompts: PromptLibrary, samples: int, seed: int
) -> PanelRecord:
    return answer_unit(unit, panel[unit.model], prompts, samples, seed)


@task(name="memorisation-check", cache_policy=NO_CACHE, persist_result=False)
def memorisation_check(
    unit: ContaminationUnit,
    panel: dict[str, RoleModel],
    prompts: PromptLibrary,
    settings: ContaminationSettings,
    seed: int,
) -> ContaminationRecord:
    return run_unit(unit, panel[unit.model], prompts, settings, seed)


@task(name="judge-item", cache_policy=NO_CACHE, persist_result=False)
def judge_item(unit: JudgeUnit, judge: RoleModel, prompts: PromptLibrary, max_repairs: int) -> JudgeRecord:
    return judge_unit(unit, judge, prompts, max_repairs)


def _fan_out(
    units: Sequence[Any],
    run: Callable[[list[Any]], list],
    record: Callable[[Any], None],
    wave: int,
    desc: str,
    show_progress: bool,
) -> None:
    with tqdm(total=len(units), desc=desc, disable=not show_progress, file=sys.stderr) as bar:
        for start in range(0, len(units), wave):
            for future in as_completed(run(list(units[start : start + wave]))):
                record(future.result())
                bar.update(1)


def _generate_companions(
    job: ScoreJob, rewriter: RoleModel, prompts: PromptLibrary, config: ScoreSettings, show_progress: bool
) -> None:
    """Robustness: for each generated benchmark, rewrite its requirement and generate a second one."""
    for bench in [b for b in job.benchmarks if b.kind == "generated" and b.requirement]:
        recorded = job.companion_run(bench.name)
        rewritten = job.companion_rewrite(bench.name) or rewrite_requirement(
            rewriter, prompts, bench.requirement, config.max_repairs
        )
        if recorded is None:
            result = generate_benchmark(
                config_data=companion_config(Path(bench.source), rewritten, config.outputs_dir).model_dump(mode="json"),
                show_progress=show_progress,
            )
        else:  # an earlier attempt started it: finish it (a no-op when it is complete)
            result = generate_benchmark(resume_dir=recorded, show_progress=show_progress)
        job.add_companion(bench.name, Path(result["run_dir"]), rewritten)


@flow(name="score-benchmarks", persist_result=False)
def score_benchmarks(paths: list[str], settings: dict[str, Any], show_progress: bool = True) -> dict[str, str]:
    """Score benchmarks side by side; writes quality.json and report.html into the job directory."""
    config = ScoreSettings.model_validate(settings)
    job = ScoreJob([Path(p) for p in paths], config)
    prompts = PromptLibrary()
    wave = 4 * config.concurrency
    with local_endpoint(job.needs_local_model()) as api_base:
        panel, judge, meter = job.open_models(api_base)
        if config.robustness:
            _generate_companions(job, judge or next(iter(panel.values())), prompts, config, show_progress)
        _fan_out(
            job.panel_units(),
            lambda chunk: panel_answer.map(
                chunk, unmapped(panel), unmapped(prompts), unmapped(config.samples), unmapped(config.seed)
            ),
            job.record_panel,
            wave,
            "panel",
            show_progress,
        )
        _fan_out(
            job.contamination_units(),
            lambda chunk: memorisation_check.map(
                chunk, unmapped(panel), unmapped(prompts), unmapped(config.contamination), unmapped(config.seed)
            ),
            job.record_contamination,
            wave,
            "memorisation",
            show_progress,
        )
        if judge is not None:
            for units, record, desc in (
                (job.judge_units(), job.record_judgment, "judge"),
                (job.calibration_units(), job.record_calibration, "judge calibration"),
            ):
                _fan_out(
                    units,
                    lambda chunk: judge_item.map(
                        chunk, unmapped(judge), unmapped(prompts), unmapped(config.max_repairs)
                    ),
                    record,
                    wave,
                    desc,
                    show_progress,
                )
    embedder = make_embedder(config.embedding_model, embedding_cache_dir(config.outputs_dir))
    report = build_report(job, embedder, usage=meter.snapshot().model_dump())
    quality_path, report_path = job.dir / "quality.json", job.dir / "report.html"
    write_json_atomic(quality_path, report.model_dump(mode="json"))
    # The JSON Schema beside the data, so machines can validate quality.json without benchmaker.
    write_json_atomic(job.dir / "quality.schema.json", QualityReport.model_json_schema())
    write_report(report, report_path)
    job.finish("complete", quality=str(quality_path), report=str(report_path))
    return {"dir": str(job.dir), "quality": str(quality_path), "report": str(report_path)}


def run_scoring(paths: list[Path], settings: ScoreSettings, show_progress: bool = True) -> dict[str, str]:
    configured = score_benchmarks.with_options(task_runner=ThreadPoolTaskRunner(max_workers=settings.concurrency))
    return configured(
        paths=[str(p) for p in paths], settings=settings.model_dump(mode="json"), show_progress=show_progress
    )
