"""Retries on transient errors only, with jittered exponential backoff that honours Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from benchmaker.errors import LLMError, LLMTransientError
from benchmaker.llm.types import Completion, LLMClient, LLMRequest


class _RetryAfterOrBackoff:
    """Wait what the provider asked for, else back off exponentially; never beyond ``cap_s``."""

    def __init__(self, cap_s: float) -> None:
        self.cap_s = cap_s
        self.backoff = wait_exponential_jitter(initial=1, max=cap_s, jitter=1)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.cap_s)
        return self.backoff(state)


class RetryingClient:
    def __init__(
        self,
        inner: LLMClient,
        *,
        max_retries: int,
        max_backoff_s: float = 60,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep

    def complete(self, request: LLMRequest) -> Completion:
        """The reply carries how many tries failed before it (``retries``); so does a final error."""
        tries = 0

        def attempt() -> Completion:
            nonlocal tries
            tries += 1
            return self.inner.complete(request)

        retrying = Retrying(
            retry=retry_if_exception_type(LLMTransientError),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=_RetryAfterOrBackoff(self.max_backoff_s),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            completion = retrying(attempt)
        except LLMError as error:
            error.retries = tries - 1  # type: ignore[attr-defined]
            raise
        return completion.model_copy(update={"retries": tries - 1}) if tries > 1 else completion
