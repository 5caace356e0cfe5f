"""The ``benchmaker`` command line: thin commands over the library and the flows."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmaker.config import RunConfig, apply_overrides, load_config_data, parse_config
from benchmaker.errors import BenchmakerError, ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Turn a requirement into a reliable multiple-choice benchmark.",
)
local_app = typer.Typer(no_args_is_help=True, help="Manage the embedded local model server by hand.")
app.add_typer(local_app, name="local")

EXIT_ERROR, EXIT_CONFIG, EXIT_STOPPED = 1, 2, 3


def _quiet_prefect() -> None:
    """Flows run on Prefect's temporary in-process server; its INFO lines and the errors it logs
    while being shut down at exit are noise to a CLI user (override with the same variables)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")


@contextlib.contextmanager
def _prefect_output_to(log_path: Path) -> Iterator[None]:
    """Send what Prefect and its temporary server print to a log file; keep the terminal for us.

    The server is a subprocess that inherits file descriptor 2 and logs harmless errors when it is
    stopped at exit; pointing fd 2 at the log before it starts keeps those out of the terminal,
    while ``sys.stderr`` (progress bars, our messages) stays on the terminal.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    terminal = os.fdopen(os.dup(terminal_fd), "w", buffering=1)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    previous, sys.stderr = sys.stderr, terminal
    try:
        yield
    finally:
        sys.stderr = previous
        terminal.close()
        os.dup2(terminal_fd, 2)
        os.close(terminal_fd)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _resolve_attributes_file(data: dict[str, Any], config_path: Path | None) -> None:
    """A relative ``benchmaker.attributes_file`` is relative to the config file, not the shell's directory."""
    section = data.get("benchmaker")
    if config_path is None or not isinstance(section, dict) or not isinstance(section.get("attributes_file"), str):
        return
    path = Path(section["attributes_file"])
    if not path.is_absolute():
        data["benchmaker"] = {**section, "attributes_file": str(config_path.parent.resolve() / path)}


def _resolve_config(
    config_path: Path | None,
    requirement: str | None,
    n_items: int | None,
    model: str | None,
    method: str | None,
    attributes: Path | None = None,
) -> RunConfig:
    data: dict[str, Any] = load_config_data(config_path) if config_path is not None else {}
    if config_path is None and requirement is None:
        raise ConfigError("give a CONFIG file or --requirement TEXT")
    if config_path is None and n_items is None:
        n_items = 10
    _resolve_attributes_file(data, config_path)
    data = apply_overrides(
        data, requirement=requirement, n_items=n_items, model=model, method=method, attributes_file=attributes
    )
    resolved = parse_config(data, source=f"config {config_path}" if config_path is not None else "flags")
    if resolved.method == "benchmaker" and resolved.benchmaker.attributes_file is not None:
        from benchmaker.methods.benchmaker.attributes import load_attributes

        load_attributes(resolved.benchmaker.attributes_file)  # a bad file fails here, before any token
    return resolved


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="YAML config file.")]) -> None:
    """Check a config and the prompts it needs; spends no tokens."""
    from benchmaker.methods import METHODS, needs_local_model
    from benchmaker.prompts import PromptLibrary

    try:
        data = load_config_data(config)
        _resolve_attributes_file(data, config)
        resolved = parse_config(data, source=f"config {config}")
        library = PromptLibrary()
        for prompt_id in METHODS[resolved.method].prompt_ids:
            library.get(prompt_id)
        if resolved.method == "benchmaker" and resolved.benchmaker.attributes_file is not None:
            from benchmaker.methods.benchmaker.attributes import load_attributes

            load_attributes(resolved.benchmaker.attributes_file)
        if needs_local_model(resolved):
            from benchmaker.local.server import check_available

            check_available()
    except ConfigError as error:
        _fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)
    req = resolved.requirement
    roles = ", ".join(f"{name}={getattr(resolved.models, name).model}" for name in ("generator", "solver", "judge"))
    typer.echo(
        f"ok: {req.n_items} items x {req.n_options} options, method {resolved.method}, {roles}, "
        f"panel={[s.model for s in resolved.models.panel]}, {len(library.templates)} prompts"
    )


def _print_summary(result: dict[str, Any]) -> None:
    usage = result["usage"]
    typer.echo(f"status: {result['status']} ({result['stop_reason']})")
    if result.get("stop_detail"):
        typer.echo(f"  {result['stop_detail']}")
    typer.echo(
        f"items: {result['accepted']}/{result['target']} accepted, {result['rejected']} rejected "
        f"{result['rejections_by_reason'] or ''}".rstrip()
    )
    balance = result["answer_balance"]
    test = f", chi-square {balance['chi2']} (p={balance['p_value']})" if "chi2" in balance else ""
    typer.echo(f"answer letters: {balance['counts']}{test}")
    if difficulty := result.get("difficulty"):
        typer.echo(
            f"difficulty labels (1 + 10 x solver error rate): mean {difficulty['mean']} over "
            f"{difficulty['labelled']} items; {difficulty['relabelled']} keys corrected by discrimination"
        )
    if program := result.get("program_verification"):
        rate = program["agreement_rate"]
        typer.echo(
            f"program-verified keys: {program['accepted_with_program_key']}/{result['accepted']} items; "
            f"programs checked {program['drafts_checked']} drafts {program['outcomes']}, agreeing with the "
            f"generator's key in {'n/a' if rate is None else f'{rate:.0%}'} of those that ran"
        )
    cost = f"${usage['cost_usd']:.4f}" + (f" (+{usage['unpriced_calls']} unpriced)" if usage["unpriced_calls"] else "")
    typer.echo(
        f"llm (whole run): {usage['calls']} paid calls, {usage['input_tokens'] + usage['output_tokens']} tokens, "
        f"{cost}, {usage['llm_seconds']:.1f} s in calls; this session: {result['calls_this_session']} new calls, "
        f"{result['cached_calls_this_session']} answered from cache, wall {result['wall_seconds_this_session']:.1f} s"
    )


@app.command()
def run(
    config: Annotated[Path | None, typer.Argument(help="YAML config file (optional with --requirement).")] = None,
    requirement: Annotated[str | None, typer.Option("--requirement", "-r", help="Requirement text.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Target number of items.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for every role (e.g. local).")] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Generation method: benchmaker (default) or direct.")
    ] = None,
    attributes: Annotated[
        Path | None,
        typer.Option("--attributes", help="attributes.yaml of an earlier run (edited or not): skips AttrPrompt."),
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Resume this run directory.")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, max=64)] = None,
    max_calls: Annotated[int | None, typer.Option("--max-calls", min=1, help="Call budget.")] = None,
    max_usd: Annotated[float | None, typer.Option("--max-usd", min=0.0, help="Dollar budget.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate a benchmark (or resume one); the last line printed is the run directory."""
    _quiet_prefect()
    try:
        budget = None
        if max_calls is not None or max_usd is not None:
            budget = {"max_calls": max_calls, "max_usd": max_usd}
        if resume is not None:
            if any(v is not None for v in (config, requirement, n, model, method, attributes)):
                raise ConfigError(
                    "--resume continues a run with its own stored config; "
                    "only --concurrency, --max-calls and --max-usd may be given with it"
                )
            from benchmaker.store import RunStore

            RunStore.open(resume)  # fail fast, before Prefect starts
            resolved = None
        else:
            resolved = _resolve_config(config, requirement, n, model, method, attributes)
            if budget is not None:
                resolved = parse_config({**resolved.model_dump(mode="json"), "budget": budget}, source="flags")
            if concurrency is not None:
                resolved = resolved.model_copy(update={"concurrency": concurrency})
    except ConfigError as error:
        _fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)

    from flows.generate import run_generation

    outputs = Path(resolved.outputs_dir) if resolved is not None else resume.resolve().parent.parent
    try:
        with _prefect_output_to(outputs / "logs" / "prefect.log"):
            result = run_generation(
                resolved,
                resume_dir=resume,
                budget=budget if resume is not None else None,
                concurrency=concurrency if resume is not None else None,
                script_dir=str(config.parent.resolve()) if config is not None else None,
                show_progress=not quiet,
            )
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted; resume with --resume RUN_DIR", err=True)
        raise typer.Exit(130) from None
    _print_summary(result)
    typer.echo(result["run_dir"])
    if result["status"] != "complete":
        raise typer.Exit(EXIT_STOPPED)


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
    _quiet_prefect()
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
    try:
        if (names := _model_list(panel)) is not None:
            data["panel"] = [{"model": name, "max_tokens": 16} for name in names]
        if judge is not None:
            data["judge"] = None if judge == "none" else {"model": judge, "max_tokens": 400}
        for key, value in (
            ("reference", reference),
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

        for path in [
            *paths,
            *([reference] if reference and reference.suffix not in {".yaml", ".yml", ".json"} else []),
        ]:
            load_benchmark(path, 1)  # fail fast on a bad path, before Prefect starts
    except ConfigError as error:
        _fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)

    from flows.score import run_scoring

    try:
        with _prefect_output_to(Path(settings.outputs_dir) / "logs" / "prefect.log"):
            result = run_scoring(paths, settings, show_progress=not quiet)
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)
    typer.echo(f"quality: {result['quality']}")
    typer.echo(result["report"])


@app.command()
def compare(
    config: Annotated[Path | None, typer.Argument(help="YAML config the variants share.")] = None,
    methods: Annotated[
        str,
        typer.Option(
            "--methods",
            help="Comma-separated: direct, benchmaker, benchmaker-repair, benchmaker-no-<step> (an ablation; "
            "benchmaker-no-program switches program-verified keys off).",
        ),
    ] = "direct,benchmaker",
    runs: Annotated[
        list[Path] | None, typer.Option("--run", help="Compare existing run directories instead (repeatable).")
    ] = None,
    requirement: Annotated[str | None, typer.Option("--requirement", "-r", help="Requirement text.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Target number of items per method.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for every role (e.g. local).")] = None,
    check: Annotated[
        str | None, typer.Option("--check", help="Check keys by program: arithmetic (integer expressions).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run several methods on one requirement and model and write them side by side.

    The last line printed is the comparison directory (comparison.json, .md and .svg).
    """
    _quiet_prefect()
    from benchmaker.answer_checks import get_checker
    from benchmaker.compare import markdown_table, variant_config

    try:
        if check is not None:
            get_checker(check)
        variants = [v.strip() for v in methods.split(",") if v.strip()]
        if runs:
            if config is not None or requirement is not None:
                raise ConfigError("--run compares finished runs; give no CONFIG or --requirement with it")
            from benchmaker.store import RunStore

            base = RunStore.open(runs[0]).config()
        else:
            base = _resolve_config(config, requirement, n, model, None)
            for variant in variants:
                variant_config(base, variant)  # every variant must be valid before the first token is spent
    except ConfigError as error:
        _fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)

    from flows.compare import compare_methods, write_results

    try:
        with _prefect_output_to(Path(base.outputs_dir) / "logs" / "prefect.log"):
            if runs:
                result = write_results(base, [(None, path) for path in runs], check)
            else:
                result = compare_methods(
                    config_data=base.model_dump(mode="json"),
                    variants=variants,
                    checker=check,
                    script_dir=str(config.parent.resolve()) if config is not None else None,
                    show_progress=not quiet,
                )
    except BenchmakerError as error:
        _fail(str(error), EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted; each finished or partial run can be resumed with benchmaker run --resume", err=True)
        raise typer.Exit(130) from None
    from benchmaker.compare import Comparison

    typer.echo(markdown_table(Comparison.model_validate(result["comparison"])))
    typer.echo(result["directory"])


@local_app.command("start")
def local_start() -> None:
    """Assemble the embedded model if needed and start its server in the background."""
    from benchmaker.local.server import start_detached

    try:
        endpoint = start_detached()
    except Exception as error:  # noqa: BLE001 - LocalModelError and OS errors alike are one line
        _fail(str(error), EXIT_ERROR)
    typer.echo(f"running: {endpoint.api_base} (pid {endpoint.pid})")


@local_app.command("stop")
def local_stop() -> None:
    """Stop the background server started by `benchmaker local start`."""
    from benchmaker.local.server import stop_detached

    typer.echo("stopped" if stop_detached() else "not running")


@local_app.command("status")
def local_status() -> None:
    """Say whether the background server is running, and where."""
    from benchmaker.local.server import server_status

    endpoint = server_status()
    if endpoint is None:
        typer.echo("not running")
        raise typer.Exit(1)
    typer.echo(f"running: {endpoint.api_base} (pid {endpoint.pid})")


def main() -> None:
    try:
        app()
    except BenchmakerError as error:  # anything a command did not catch itself
        typer.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
