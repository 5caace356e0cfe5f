"""benchmaker server start|stop|status and benchmaker schedule: scheduled refreshes on a real Prefect server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from benchmaker.cli.common import EXIT_CONFIG, EXIT_ERROR, app, fail
from benchmaker.errors import BenchmakerError, ConfigError

server_app = typer.Typer(no_args_is_help=True, help="A Prefect server in the background, for schedules and its UI.")
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 4200,
) -> None:
    """Start `prefect server start` in the background (SQLite under PREFECT_HOME unless
    PREFECT_API_DATABASE_CONNECTION_URL says otherwise)."""
    from benchmaker.prefect_server import PrefectServerManager

    try:
        server = PrefectServerManager().start(host=host, port=port)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    typer.echo(f"running: {server.url} (pid {server.pid}); UI at {server.url}")
    typer.echo(f"for workers and the prefect CLI: export PREFECT_API_URL={server.api_url}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server `benchmaker server start` started."""
    from benchmaker.prefect_server import PrefectServerManager

    typer.echo("stopped" if PrefectServerManager().stop() else "not running")


@server_app.command("status")
def server_status() -> None:
    """Say whether the server is running, and where (exit 1 when it is not)."""
    from benchmaker.prefect_server import PrefectServerManager

    server = PrefectServerManager().status()
    if server is None:
        typer.echo("not running")
        raise typer.Exit(1)
    typer.echo(f"running: {server.url} (pid {server.pid}); API {server.api_url}")


@app.command()
def schedule(
    config: Annotated[Path, typer.Argument(help="The run config (its release: section gives dedup and gates).")],
    release: Annotated[str, typer.Option("--release", help="Release name the refreshes publish to.")],
    cron: Annotated[str | None, typer.Option("--cron", help='Cron expression, e.g. "0 3 * * 1".')] = None,
    interval: Annotated[float | None, typer.Option("--interval", min=1, help="Seconds between runs.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Time zone of the cron expression.")] = None,
    pool: Annotated[
        str | None,
        typer.Option("--pool", help="Deploy to this work pool (run by `prefect worker start --pool`) and exit."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Deployment name (default: the release name).")] = None,
    outputs_dir: Annotated[Path | None, typer.Option("--outputs-dir", help="Default: the config's.")] = None,
) -> None:
    """Schedule refreshes of a release on the Prefect server.

    Without --pool this process serves the deployment (runs its scheduled runs) until stopped;
    with --pool, workers run them.
    """
    from benchmaker.prefect_server import is_healthy, resolve_api_url
    from benchmaker.releases.refresh import load_refresh_config
    from benchmaker.releases.settings import release_name_problem

    try:
        if (problem := release_name_problem(release)) is not None:
            raise ConfigError(problem)
        if (cron is None) == (interval is None):
            raise ConfigError("give exactly one of --cron and --interval")
        run_config, _ = load_refresh_config(config)
        outputs = (outputs_dir or Path(run_config.outputs_dir)).resolve()
        api_url = resolve_api_url()
        if api_url is None:
            raise BenchmakerError("no Prefect server: run `benchmaker server start` or set PREFECT_API_URL")
        if not is_healthy(api_url):
            raise BenchmakerError(f"the Prefect server at {api_url} does not answer")
        os.environ["PREFECT_API_URL"] = api_url
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)

    from flows.schedule import deploy_refresh, refresh_parameters, schedule_options, serve_refresh

    try:
        options = schedule_options(cron, interval, timezone)
    except ValueError as error:
        fail(str(error).splitlines()[0], EXIT_CONFIG)
    parameters = refresh_parameters(str(config.resolve()), release, str(outputs))
    deployment = name or release
    when = f"cron {cron!r}" if cron else f"every {interval:g} s"
    if pool is not None:
        try:
            deployment_id = deploy_refresh(deployment, parameters, options, pool)
        except Exception as error:  # noqa: BLE001 - Prefect's API errors are reported in one line
            fail(f"could not create the deployment: {str(error).splitlines()[0]}", EXIT_ERROR)
        typer.echo(f"deployment refresh-benchmark/{deployment} ({deployment_id}) on pool {pool!r}, {when}")
        typer.echo(f"run it with workers: PREFECT_API_URL={api_url} prefect worker start --pool {pool}")
        return
    typer.echo(f"serving refresh-benchmark/{deployment}, {when}, releases under {outputs}; Ctrl-C stops it")
    try:
        serve_refresh(deployment, parameters, options)
    except KeyboardInterrupt:
        typer.echo("stopped serving; the deployment's schedule is paused", err=True)
        raise typer.Exit(130) from None
