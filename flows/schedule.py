"""Deployments of the refresh flow on a Prefect server: served by this process, or run by workers.

* ``serve_refresh``: a long-running process that creates the deployment and runs its scheduled
  runs itself (one at a time), until it is stopped.
* ``deploy_refresh``: the deployment goes to a work pool (created as a ``process`` pool if missing);
  any number of ``prefect worker start --pool POOL`` processes, on any machine that reaches the
  server and has benchmaker installed, pick its runs up. The server hands each scheduled run to
  exactly one worker. The flow is found by module path (``flows.refresh``), so no code is uploaded.

Each run reads the config file anew, so an edit takes effect at the next run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.schedules import Cron, Interval

from flows.refresh import refresh_benchmark


def schedule_options(cron: str | None, interval: float | None, timezone: str | None = None) -> dict[str, Any]:
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one of a cron expression and an interval")
    if cron is not None:
        return {"schedule": Cron(cron, timezone=timezone)}
    return {"schedule": Interval(timedelta(seconds=interval), timezone=timezone)}


def refresh_parameters(config_path: str, release: str, outputs_dir: str) -> dict[str, Any]:
    return {"config_path": config_path, "release": release, "outputs_dir": outputs_dir}


def serve_refresh(name: str, parameters: dict[str, Any], schedule: dict[str, Any]) -> None:
    """Blocks: create or update the deployment and run its scheduled runs here, one at a time."""
    refresh_benchmark.serve(name=name, parameters=parameters, limit=1, **schedule)


def ensure_process_pool(pool: str) -> bool:
    """Create a ``process`` work pool named ``pool`` unless it exists; True if it was created."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:  # another `benchmaker schedule` created it meanwhile
                return False
            return True


def deploy_refresh(name: str, parameters: dict[str, Any], schedule: dict[str, Any], pool: str) -> str:
    """Create or update the deployment on ``pool``; returns its id. Workers run it."""
    ensure_process_pool(pool)
    deployment = refresh_benchmark.to_deployment(
        name=name, parameters=parameters, entrypoint_type=EntrypointType.MODULE_PATH, **schedule
    )
    return str(deployment.apply(work_pool_name=pool))
