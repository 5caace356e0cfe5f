"""The comparison flow: one generation run per method variant on the same requirement, then a side-by-side."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow

from benchmaker.compare import compare_runs, variant_config, write_comparison
from benchmaker.config import RunConfig, parse_config
from benchmaker.methods import needs_local_model
from flows._local import local_endpoint
from flows.generate import run_generation


@flow(name="compare-methods", persist_result=False, log_prints=False)
def compare_methods(
    config_data: dict[str, Any],
    variants: list[str],
    checker: str | None = None,
    script_dir: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Generate with each variant in turn (the runs are ordinary runs: each can be resumed alone)."""
    base = parse_config(config_data)
    configs = {variant: variant_config(base, variant) for variant in variants}
    runs: list[tuple[str | None, Path]] = []
    # One embedded server for every run, instead of loading the model once per variant.
    with local_endpoint(any(needs_local_model(c) for c in configs.values())):
        for variant, config in configs.items():
            result = run_generation(config, script_dir=script_dir, show_progress=show_progress)
            runs.append((variant, Path(result["run_dir"])))
    return write_results(base, runs, checker)


def write_results(base: RunConfig, runs: list[tuple[str | None, Path]], checker: str | None) -> dict[str, Any]:
    comparison = compare_runs(runs, checker)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = write_comparison(comparison, Path(base.outputs_dir) / "comparisons" / stamp)
    return {"directory": str(directory), "comparison": comparison.model_dump(mode="json")}
