"""Generation commands: validate a config, run (or resume) a generation, compare methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from benchmaker.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_STOPPED,
    app,
    fail,
    prefect_output_to,
    quiet_prefect,
    resolve_attributes_file,
    resolve_config,
)
from benchmaker.config import RunConfig, load_config_data, parse_config
from benchmaker.errors import BenchmakerError, ConfigError


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="YAML config file.")]) -> None:
    """Check a config and the prompts it needs; spends no tokens."""
    from benchmaker.methods import METHODS, needs_local_model
    from benchmaker.prompts import PromptLibrary

    try:
        data = load_config_data(config)
        resolve_attributes_file(data, config)
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
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    req = resolved.requirement
    roles = ", ".join(f"{name}={getattr(resolved.models, name).model}" for name in ("generator", "solver", "judge"))
    typer.echo(
        f"ok: {req.n_items} items x {req.n_options} options, method {resolved.method}, {roles}, "
        f"panel={[s.model for s in resolved.models.panel]}, {len(library.templates)} prompts"
    )


def _print_estimate(config: RunConfig) -> None:
    """One line before a new run starts: what it is expected to cost (see ``benchmaker estimate``)."""
    from benchmaker.estimate import estimate

    try:
        line = estimate(config).line()
    except Exception as error:  # noqa: BLE001 - an estimate never stops a run
        line = f"estimate: not available ({type(error).__name__})"
    typer.echo(line, err=True)


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
    if evidence := result.get("key_evidence"):
        typer.echo("key evidence: " + ", ".join(f"{level} {count}" for level, count in sorted(evidence.items())))
    if program := result.get("program_verification"):
        rate = program["agreement_rate"]
        outcomes = {name: count for name, count in program["outcomes"].items() if count}
        typer.echo(
            f"program-verified keys: {program['accepted_with_program_key']}/{result['accepted']} items; "
            f"programs checked {program['drafts_checked']} drafts {outcomes}, agreeing with the "
            f"generator's key in {'n/a' if rate is None else f'{rate:.0%}'} of those where they agreed on a value"
        )
    cost = f"${usage['cost_usd']:.4f}" + (f" (+{usage['unpriced_calls']} unpriced)" if usage["unpriced_calls"] else "")
    faults = ""
    if usage.get("retries") or usage.get("failed_calls"):
        faults = f" ({usage.get('retries', 0)} retried after transient errors, {usage.get('failed_calls', 0)} failed)"
    typer.echo(
        f"llm (whole run): {usage['calls']} paid calls{faults}, "
        f"{usage['input_tokens'] + usage['output_tokens']} tokens, "
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
    trust_run: Annotated[
        bool,
        typer.Option(
            "--trust-run",
            help="Resume a run made elsewhere (or edited) even though it sends your credentials to the "
            "endpoints its config names; check them first.",
        ),
    ] = False,
) -> None:
    """Generate a benchmark (or resume one); the last line printed is the run directory."""
    quiet_prefect()
    try:
        budget = None
        if max_calls is not None or max_usd is not None:
            budget = {"max_calls": max_calls, "max_usd": max_usd}
        if resume is not None:
            if any(v is not None for v in (config, requirement, n, model, method, attributes)):
                raise ConfigError(
                    "--resume continues a run with its own stored config; "
                    "only --concurrency, --max-calls, --max-usd and --trust-run may be given with it"
                )
            from benchmaker.store import RunStore
            from benchmaker.trust import require_trusted

            stored = RunStore.open(resume)  # fail fast, before Prefect starts
            require_trusted(stored.manifest(), stored.config(), trusted=trust_run, action="refusing to resume")
            RunStore.check_not_busy(resume)  # a second writer would interleave its records with the first's
            resolved = None
        elif trust_run:
            raise ConfigError("--trust-run goes with --resume")
        else:
            resolved = resolve_config(config, requirement, n, model, method, attributes)
            if budget is not None:
                resolved = parse_config({**resolved.model_dump(mode="json"), "budget": budget}, source="flags")
            if concurrency is not None:
                resolved = resolved.model_copy(update={"concurrency": concurrency})
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)

    if resolved is not None:
        _print_estimate(resolved)
    from flows.generate import run_generation

    outputs = Path(resolved.outputs_dir) if resolved is not None else resume.resolve().parent.parent
    try:
        with prefect_output_to(outputs / "logs" / "prefect.log"):
            result = run_generation(
                resolved,
                resume_dir=resume,
                budget=budget if resume is not None else None,
                concurrency=concurrency if resume is not None else None,
                script_dir=str(config.parent.resolve()) if config is not None else None,
                show_progress=not quiet,
                **({"trust_run": True} if trust_run else {}),
            )
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted; resume with --resume RUN_DIR", err=True)
        raise typer.Exit(130) from None
    _print_summary(result)
    typer.echo(result["run_dir"])
    if result["status"] != "complete":
        raise typer.Exit(EXIT_STOPPED)


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
    quiet_prefect()
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

            # Written beside the compared runs, not where a (possibly foreign) manifest says.
            base = RunStore.open(runs[0]).config()
            base = base.model_copy(update={"outputs_dir": runs[0].resolve().parent.parent})
        else:
            base = resolve_config(config, requirement, n, model, None)
            for variant in variants:
                variant_config(base, variant)  # every variant must be valid before the first token is spent
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)

    from flows.compare import compare_methods, write_results

    try:
        with prefect_output_to(Path(base.outputs_dir) / "logs" / "prefect.log"):
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
        fail(str(error), EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted; each finished or partial run can be resumed with benchmaker run --resume", err=True)
        raise typer.Exit(130) from None
    from benchmaker.compare import Comparison

    typer.echo(markdown_table(Comparison.model_validate(result["comparison"])))
    typer.echo(result["directory"])


@app.command("config-schema")
def config_schema(
    json_schema: Annotated[
        bool, typer.Option("--json", help="The JSON Schema instead of the Markdown reference.")
    ] = False,
) -> None:
    """Print the configuration reference (every key, type, default, limit and meaning); docs/config.md is this."""
    from benchmaker.config_doc import config_json_schema, config_reference

    typer.echo(config_json_schema() if json_schema else config_reference(), nl=False)
