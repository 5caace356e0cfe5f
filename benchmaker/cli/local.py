"""benchmaker local start|stop|status: the embedded model's server, by hand."""

from __future__ import annotations

import typer

from benchmaker.cli.common import EXIT_ERROR, fail, local_app


@local_app.command("start")
def local_start() -> None:
    """Assemble the embedded model if needed and start its server in the background."""
    from benchmaker.local.server import start_detached

    try:
        endpoint = start_detached()
    except Exception as error:  # noqa: BLE001 - LocalModelError and OS errors alike are one line
        fail(str(error), EXIT_ERROR)
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
