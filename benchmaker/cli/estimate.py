"""``benchmaker estimate``: what a run will cost (calls, tokens, dollars, minutes) before it spends anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchmaker.cli.common import EXIT_CONFIG, app, fail, resolve_config
from benchmaker.errors import ConfigError


@app.command("estimate")
def estimate_command(
    config: Annotated[Path | None, typer.Argument(help="YAML config file (optional with --requirement).")] = None,
    requirement: Annotated[str | None, typer.Option("--requirement", "-r", help="Requirement text.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Target number of items.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for every role.")] = None,
    method: Annotated[str | None, typer.Option("--method", help="benchmaker (default) or direct.")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, max=64)] = None,
    no_priors: Annotated[
        bool, typer.Option("--no-priors", help="Use the stated defaults, not the earlier runs of this plan.")
    ] = False,
) -> None:
    """Expected calls, tokens, dollars (litellm's price map) and minutes of a run; spends no tokens."""
    from benchmaker.estimate import estimate

    try:
        resolved = resolve_config(config, requirement, n, model, method)
        if concurrency is not None:
            resolved = resolved.model_copy(update={"concurrency": concurrency})
        result = estimate(resolved, use_priors=not no_priors)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    typer.echo(
        "| stage | role | calls | samples per call | input tokens per call | output tokens per call | s per call |"
    )
    typer.echo("|---|---|---|---|---|---|---|")
    for label, stages, times in (("setup", result.setup, 1.0), ("per attempt", result.per_attempt, result.attempts)):
        for s in stages:
            typer.echo(
                f"| {s.prompt_id} ({label}) | {s.role} | {s.calls * times:.1f} | {s.samples:.1f} | "
                f"{s.input_tokens:.0f} | {s.output_tokens:.0f} | {s.seconds:.2f} |"
            )
    if result.unpriced:
        typer.echo(f"no price in litellm's map for: {', '.join(result.unpriced)}")
    typer.echo(result.line())
