"""benchmaker review RUN_DIR|RELEASE_DIR: a local web page to accept, reject or correct items."""

from __future__ import annotations

import os
import socket
import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from benchmaker.cli.common import EXIT_CONFIG, EXIT_ERROR, app, fail
from benchmaker.errors import BenchmakerError, ConfigError


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise BenchmakerError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _has_browser() -> bool:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


@app.command("review")
def review(
    path: Annotated[Path, typer.Argument(help="A run directory, or a release version (outputs/releases/NAME/vN).")],
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (default: a free one).")] = 0,
    host: Annotated[
        str, typer.Option("--host", help="Listen address; anything but loopback requires the printed token.")
    ] = "127.0.0.1",
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Name recorded with decisions (default: your user name).")
    ] = None,
    quality: Annotated[
        Path | None, typer.Option("--quality", help="quality.json whose flags to show (default: the newest score).")
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
) -> None:
    """Review items in a local web page; decisions go to reviews.jsonl (benchmark.jsonl is never rewritten)."""
    import uvicorn

    from benchmaker.review.app import create_app
    from benchmaker.review.models import reviewer_problem
    from benchmaker.review.security import Security
    from benchmaker.review.source import ReviewSource

    try:
        if reviewer is not None and (problem := reviewer_problem(reviewer)) is not None:
            raise ConfigError(f"--reviewer: {problem}")
        source = ReviewSource.open(path, quality=quality)
        sock = _bind(host, port)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    security = Security.for_host(host, sock.getsockname()[1])
    application = create_app(source, security, reviewer=reviewer)
    items = source.items()
    reviewed = sum(state.status != "unreviewed" for state in source.states().values())
    typer.echo(f"reviewing {source.kind} {source.title}: {len(items)} items, {reviewed} reviewed")
    typer.echo(f"decisions go to {source.log.path}")
    if security.access_token:
        typer.echo("listening beyond loopback: the URL below carries the access token; share it only with reviewers")
    typer.echo("Ctrl-C stops the server")
    typer.echo(security.url(), color=False)
    sys.stdout.flush()
    if not no_browser and _has_browser():
        webbrowser.open(security.url())
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", access_log=False, lifespan="off"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
