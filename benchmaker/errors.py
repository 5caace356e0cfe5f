"""The one error tree of benchmaker: every message is user-facing and free of secrets."""

from __future__ import annotations


class BenchmakerError(Exception):
    """Base of every error the CLI reports as one line, without a traceback."""


class ConfigError(BenchmakerError, ValueError):
    """A configuration file or flag is invalid."""


class PromptError(BenchmakerError):
    """A prompt template is missing, malformed, or rendered with missing variables."""


class StoreError(BenchmakerError):
    """A run directory is missing, corrupt, or does not match the requested resume."""


class LLMError(BenchmakerError):
    """An LLM call failed."""


class LLMTransientError(LLMError):
    """A failure worth retrying: rate limit, timeout, connection error, 5xx.

    ``retry_after`` carries the provider's Retry-After hint in seconds, when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMPermanentError(LLMError):
    """A failure that retrying cannot fix: bad request, authentication, unknown model."""


class LLMFatalError(LLMPermanentError):
    """A failure that will hit every call alike (bad key, unknown model): the run stops at once
    instead of recording it as one item's rejection after another."""


class ParseError(LLMError):
    """A reply did not validate against its schema after the bounded repair loop."""

    def __init__(self, message: str, last_text: str = "", attempts: int = 0) -> None:
        super().__init__(message)
        self.last_text = last_text
        self.attempts = attempts


class ScriptExhaustedError(LLMError):
    """The scripted fake has no response left for a prompt."""


class BudgetExceeded(BenchmakerError):
    """A configured budget (calls or dollars) is spent; the run stops cleanly."""
