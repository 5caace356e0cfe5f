"""``benchmaker simulate-provider``: the simulated OpenAI-compatible provider, for dry runs and tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from benchmaker.cli.common import EXIT_CONFIG, app, fail
from benchmaker.errors import ConfigError

KEY_ENV = "BENCHMAKER_SIM_KEY"


def parse_faults(text: str) -> dict[str, float]:
    """``rate_limit=0.05,reset=0.02`` -> {"rate_limit": 0.05, "reset": 0.02}."""
    faults: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            faults[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--faults: {part!r} is not kind=rate") from None
    return faults


@app.command("simulate-provider")
def simulate_provider(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0: any free port.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Faults and latencies are drawn from it.")] = 0,
    fault_rate: Annotated[
        float, typer.Option("--fault-rate", min=0.0, max=1.0, help="Share of requests that fail, every kind alike.")
    ] = 0.0,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="Per kind instead: rate_limit, server_error, reset, slow, truncated_json, non_json, "
            "empty_choices, schema_break, e.g. 'rate_limit=0.1,reset=0.05'.",
        ),
    ] = None,
    ttft: Annotated[float, typer.Option("--ttft", min=0.0, help="Median seconds to the first token.")] = 0.0,
    ttft_sigma: Annotated[float, typer.Option("--ttft-sigma", min=0.0, help="Sigma of its lognormal.")] = 0.5,
    tokens_per_s: Annotated[float, typer.Option("--tokens-per-s", min=0.0, help="Output speed; 0: instant.")] = 0.0,
    retry_after: Annotated[float, typer.Option("--retry-after", min=0.0, help="Retry-After of a 429.")] = 1.0,
    slow_s: Annotated[float, typer.Option("--slow-s", min=0.0, help="Delay of a slow reply.")] = 30.0,
    script: Annotated[
        Path | None, typer.Option("--script", help="A scripted-fake YAML (replies per prompt) to answer with.")
    ] = None,
) -> None:
    """Serve an OpenAI-compatible API on 127.0.0.1 that answers like the scripted fake, with latency and faults."""
    from pydantic import ValidationError

    from benchmaker.config import format_validation_error
    from benchmaker.llm.scripted import load_script
    from benchmaker.simulate import FaultMix, LatencyModel, SimulatedProvider, SimulationSettings

    try:
        options = {"retry_after_s": retry_after, "slow_s": slow_s}
        try:
            mix = FaultMix(**parse_faults(faults), **options) if faults else FaultMix.spread(fault_rate, **options)
            settings = SimulationSettings(
                seed=seed,
                latency=LatencyModel(ttft_median_s=ttft, ttft_sigma=ttft_sigma, tokens_per_s=tokens_per_s),
                faults=mix,
            )
        except ValidationError as error:
            raise ConfigError(f"invalid simulation settings: {format_validation_error(error)}") from None
        provider = SimulatedProvider(settings, script=load_script(script) if script else None, port=port)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except OSError as error:
        fail(f"cannot listen on 127.0.0.1:{port}: {error.strerror}", EXIT_CONFIG)
    typer.echo(f"simulated provider at {provider.api_base} (seed {seed}, faults {mix.total:.0%}); Ctrl-C stops it")
    typer.echo(f"use it in a config (set {KEY_ENV} to any value):")
    typer.echo(
        f"  models: {{generator: &sim {{model: openai/simulated, api_base: '{provider.api_base}', "
        f"api_key_env: {KEY_ENV}, response_format: json_schema}}, solver: *sim, judge: *sim, panel: [*sim]}}"
    )
    with contextlib.suppress(KeyboardInterrupt):
        provider.serve_forever()
    typer.echo(f"requests: {provider.stats.counts()}")
