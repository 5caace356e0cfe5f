"""The score command: benchmarks side by side, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from benchmaker.cli.common import EXIT_CONFIG, EXIT_ERROR, app, fail, prefect_output_to, quiet_prefect
from benchmaker.errors import BenchmakerError, ConfigError


def _model_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ConfigError("--panel needs at least one model")
    return names


@app.command()
def score(
    paths: Annotated[list[Path], typer.Argument(help="Run directories or benchmark files (.jsonl, MMLU .csv).")],
    panel: Annotated[str | None, typer.Option("--panel", help="Examinee models, comma-separated.")] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="Judge model, or 'none' to skip judging.")] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Reference benchmark or model->accuracy YAML, for effectiveness.")
    ] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", min=1, help="Answers per model per item.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N items of each benchmark.")] = None,
    requirement: Annotated[
        str | None, typer.Option("--requirement", help="Requirement to judge imported sets' alignment against.")
    ] = None,
    embedding_model: Annotated[
        str | None, typer.Option("--embedding-model", help="'hashing' for the offline fake.")
    ] = None,
    calibrate: Annotated[
        Path | None,
        typer.Option(
            "--calibrate", help="Trusted-key benchmark to calibrate the judge and panel on (else --reference)."
        ),
    ] = None,
    calibration_items: Annotated[
        int | None, typer.Option("--calibration-items", min=2, help="Trusted items shown to the judge twice.")
    ] = None,
    no_contamination: Annotated[
        bool, typer.Option("--no-contamination", help="Skip the memorisation (partial-prompt completion) check.")
    ] = False,
    contamination_mode: Annotated[
        str | None,
        typer.Option("--contamination-mode", help="auto (raw completion where offered), raw, or chat."),
    ] = None,
    robustness: Annotated[
        bool,
        typer.Option(
            "--robustness",
            help="Also generate a benchmark from a rewritten requirement per generated set, and compare (costs a run).",
        ),
    ] = False,
    no_choices_only: Annotated[bool, typer.Option("--no-choices-only", help="Skip the choices-only pass.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64)] = 1,
    max_calls: Annotated[int | None, typer.Option("--max-calls", min=1)] = None,
    outputs_dir: Annotated[Path, typer.Option("--outputs-dir")] = Path("outputs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Score benchmarks side by side; the last line printed is the report's path."""
    quiet_prefect()
    from pydantic import ValidationError

    from benchmaker.config import format_validation_error
    from benchmaker.scoring.settings import ScoreSettings

    data: dict[str, Any] = {
        "samples": samples,
        "concurrency": concurrency,
        "outputs_dir": str(outputs_dir),
        "robustness": robustness,
        "choices_only": not no_choices_only,
    }
    contamination: dict[str, Any] = {"enabled": not no_contamination}
    if contamination_mode is not None:
        contamination["mode"] = contamination_mode
    data["contamination"] = contamination
    try:
        if (names := _model_list(panel)) is not None:
            data["panel"] = [{"model": name, "max_tokens": 16} for name in names]
        if judge is not None:
            data["judge"] = None if judge == "none" else {"model": judge, "max_tokens": 400}
        for key, value in (
            ("reference", reference),
            ("calibrate", calibrate),
            ("calibration_items", calibration_items),
            ("limit", limit),
            ("requirement", requirement),
            ("embedding_model", embedding_model),
        ):
            if value is not None:
                data[key] = str(value) if isinstance(value, Path) else value
        if max_calls is not None:
            data["budget"] = {"max_calls": max_calls}
        try:
            settings = ScoreSettings.model_validate(data)
        except ValidationError as error:
            raise ConfigError(f"invalid score options: {format_validation_error(error)}") from None
        from benchmaker.scoring.benchmarks import load_benchmark
        from benchmaker.scoring.job import load_reference_scores

        if reference is not None:
            load_reference_scores(reference)  # a missing or invalid scores file: one line, before Prefect
        for path in [
            *paths,
            *([reference] if reference and reference.suffix not in {".yaml", ".yml", ".json"} else []),
            *([calibrate] if calibrate else []),
        ]:
            load_benchmark(path, 1)  # fail fast on a bad path, before Prefect starts
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)

    from flows.score import run_scoring

    try:
        with prefect_output_to(Path(settings.outputs_dir) / "logs" / "prefect.log"):
            result = run_scoring(paths, settings, show_progress=not quiet)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    typer.echo(f"quality: {result['quality']}")
    typer.echo(result["report"])
