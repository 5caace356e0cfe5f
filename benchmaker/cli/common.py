"""What every command shares: the Typer app, exit codes, one-line failures, config resolution, and
keeping Prefect's own output off the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from benchmaker.config import RunConfig, apply_overrides, load_config_data, parse_config
from benchmaker.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Turn a requirement into a reliable multiple-choice benchmark.",
)
local_app = typer.Typer(no_args_is_help=True, help="Manage the embedded local model server by hand.")
app.add_typer(local_app, name="local")

EXIT_ERROR, EXIT_CONFIG, EXIT_STOPPED = 1, 2, 3


def quiet_prefect() -> None:
    """Flows run on Prefect's temporary in-process server; its INFO lines and the errors it logs
    while being shut down at exit are noise to a CLI user (override with the same variables)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")


@contextlib.contextmanager
def prefect_output_to(log_path: Path) -> Iterator[None]:
    """Send what Prefect and its temporary server print to a log file; keep the terminal for us.

    The server is a subprocess that inherits file descriptor 2 and logs harmless errors when it is
    stopped at exit; pointing fd 2 at the log before it starts keeps those out of the terminal,
    while ``sys.stderr`` (progress bars, our messages) stays on the terminal.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    terminal = os.fdopen(os.dup(terminal_fd), "w", buffering=1)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    previous, sys.stderr = sys.stderr, terminal
    try:
        yield
    finally:
        sys.stderr = previous
        terminal.close()
        os.dup2(terminal_fd, 2)
        os.close(terminal_fd)


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def resolve_attributes_file(data: dict[str, Any], config_path: Path | None) -> None:
    """A relative ``benchmaker.attributes_file`` is relative to the config file, not the shell's directory."""
    section = data.get("benchmaker")
    if config_path is None or not isinstance(section, dict) or not isinstance(section.get("attributes_file"), str):
        return
    path = Path(section["attributes_file"])
    if not path.is_absolute():
        data["benchmaker"] = {**section, "attributes_file": str(config_path.parent.resolve() / path)}


def resolve_config(
    config_path: Path | None,
    requirement: str | None,
    n_items: int | None,
    model: str | None,
    method: str | None,
    attributes: Path | None = None,
) -> RunConfig:
    data: dict[str, Any] = load_config_data(config_path) if config_path is not None else {}
    if config_path is None and requirement is None:
        raise ConfigError("give a CONFIG file or --requirement TEXT")
    if config_path is None and n_items is None:
        n_items = 10
    resolve_attributes_file(data, config_path)
    data = apply_overrides(
        data, requirement=requirement, n_items=n_items, model=model, method=method, attributes_file=attributes
    )
    resolved = parse_config(data, source=f"config {config_path}" if config_path is not None else "flags")
    if resolved.method == "benchmaker" and resolved.benchmaker.attributes_file is not None:
        from benchmaker.methods.benchmaker.attributes import load_attributes

        load_attributes(resolved.benchmaker.attributes_file)  # a bad file fails here, before any token
    return resolved
