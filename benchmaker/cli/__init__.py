"""The ``benchmaker`` command line: thin commands over the library and the flows.

One module per group of commands; each registers itself on the shared ``app`` when imported.
"""

from __future__ import annotations

import sys

import typer

from benchmaker.cli import (  # noqa: F401 - registers the commands
    estimate,
    generate,
    local,
    release,
    review,
    scoring,
    server,
    simulate,
)
from benchmaker.cli.common import EXIT_ERROR, app
from benchmaker.errors import BenchmakerError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except BenchmakerError as error:  # anything a command did not catch itself
        typer.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ERROR)
