"""The refresh flow: generate a new run, score it, and publish it as the next version if its gates pass.

Thin: ``benchmaker.releases.refresh`` decides the version, the seed and the scoring; ``create_release``
does dedup, gates and the atomic publish. A refused version ends the flow run as Failed (with the
reasons) and publishes nothing; so does an error or a kill at any point, since a version only ever
appears by one rename at the very end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, runtime
from prefect.states import Completed, Failed, State

from benchmaker.methods import needs_local_model
from benchmaker.releases.refresh import Refresh
from flows._local import local_endpoint
from flows.generate import run_generation
from flows.score import run_scoring


def _trigger() -> dict[str, Any]:
    """Which Prefect flow run (and deployment) this is; recorded in the release's history and release.json."""
    fields = {
        "flow_run_id": runtime.flow_run.id,
        "flow_run_name": runtime.flow_run.name,
        "deployment": runtime.deployment.name,
        "scheduled_start": runtime.flow_run.scheduled_start_time,
    }
    return {key: str(value) for key, value in fields.items() if value is not None}


@flow(name="refresh-benchmark", persist_result=False, log_prints=False)
def refresh_benchmark(
    config_path: str, release: str, outputs_dir: str | None = None, show_progress: bool = False
) -> State:
    """One refresh of ``release`` from the config file at ``config_path`` (read anew by every run)."""
    refresh = Refresh(
        Path(config_path), release, outputs_dir=Path(outputs_dir) if outputs_dir else None, trigger=_trigger()
    )
    plan = None
    with refresh.lock():
        try:
            plan = refresh.plan()
            with local_endpoint(needs_local_model(plan.run_config)):
                run = run_generation(plan.run_config, script_dir=str(refresh.config_dir), show_progress=show_progress)
                quality = None
                if refresh.settings.scoring.enabled and run["accepted"] > 0:
                    scored = run_scoring([Path(run["run_dir"])], refresh.score_settings(), show_progress=show_progress)
                    quality = Path(scored["quality"])
            outcome = refresh.publish(plan, [Path(run["run_dir"])], quality)
        except BaseException as error:
            refresh.record_error(plan, error)
            raise
    summary = {
        "release": release,
        "version": outcome.version,
        "published": outcome.published,
        "path": str(outcome.path),
        "run_dir": run["run_dir"],
        "seed": plan.seed,
        "counts": outcome.manifest.counts.model_dump(),
        "reasons": outcome.reasons,
    }
    if not outcome.published:
        return Failed(message=f"v{outcome.version} not published: " + "; ".join(outcome.reasons), data=summary)
    return Completed(message=f"published {release} v{outcome.version}", data=summary)
