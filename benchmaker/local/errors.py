"""Errors raised by the embedded local model support."""

from __future__ import annotations

from benchmaker.errors import BenchmakerError


class LocalModelError(BenchmakerError):
    """A problem with the embedded model or its server, worded for the end user.

    The message is a single line that says what went wrong and, where possible,
    what to do about it, so the CLI can print it as-is without a traceback.
    """
