"""The real client: any provider litellm knows, or any OpenAI-compatible ``api_base``."""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmaker.errors import LLMFatalError, LLMPermanentError, LLMTransientError
from benchmaker.llm.fanout import together
from benchmaker.llm.types import Completion, LLMRequest, Usage
from benchmaker.secrets import redact

# Offline machines cannot fetch litellm's price map; the copy bundled with litellm is used instead.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ResponseFormatMode = str  # "json_schema" | "json_object_schema" | "json_object" | "none"


def build_response_format(mode: ResponseFormatMode, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``response_format`` argument for a schema, in the dialect the endpoint understands.

    llama.cpp's server takes ``json_object`` plus ``schema`` and answers 500 to ``json_schema``.
    """
    if schema is None or mode == "none":
        return None
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": False}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    raise ValueError(f"unknown response format mode {mode!r}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retry_after_of(error: Exception) -> float | None:
    """The Retry-After hint of a provider error. litellm gives the error a synthetic ``response`` with no
    headers and keeps the real ones in ``litellm_response_headers``: both are looked at."""
    response = getattr(error, "response", None)
    for headers in (getattr(error, "litellm_response_headers", None), getattr(response, "headers", None)):
        try:
            value = headers.get("retry-after") if headers is not None else None
        except AttributeError:
            continue
        if value:
            return parse_retry_after(value)
    return None


def classify_error(error: Exception, secrets: tuple[str | None, ...] = ()) -> Exception:
    """Map a litellm/openai exception to transient (retry) or permanent (do not).

    The message is shown, recorded in rejections and in Prefect's state: ``secrets`` (the key the call
    sent) are cut out of it, in case the provider echoes what it was given.
    """
    import litellm

    transient = (
        litellm.exceptions.RateLimitError,
        litellm.exceptions.Timeout,
        litellm.exceptions.APIConnectionError,
        litellm.exceptions.ServiceUnavailableError,
        litellm.exceptions.InternalServerError,
    )
    bad_gateway = getattr(litellm.exceptions, "BadGatewayError", None)
    if bad_gateway is not None:
        transient = (*transient, bad_gateway)
    text = str(error)
    message = redact(f"{type(error).__name__}: {text.splitlines()[0] if text.strip() else ''}", secrets)[:500]
    fatal = (
        litellm.exceptions.AuthenticationError,
        litellm.exceptions.PermissionDeniedError,
        litellm.exceptions.NotFoundError,
    )
    if isinstance(error, transient):
        return LLMTransientError(message, retry_after=_retry_after_of(error))
    if isinstance(error, fatal):
        return LLMFatalError(message)
    return LLMPermanentError(message)


class LiteLLMClient:
    """Calls ``litellm.completion``; never retries by itself and never falls back to another provider."""

    def __init__(
        self,
        *,
        litellm_model: str,
        api_base: str | Callable[[], str] | None = None,
        api_key: str | None = None,
        response_format_mode: ResponseFormatMode = "json_object",
        timeout_s: float = 300,
        native_n: bool = True,
        free: bool = False,
        parallel: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """``parallel``: the n calls standing in for a provider's missing ``n`` go out together (an API);
        off, they go one after another (the embedded model's serial server)."""
        self.litellm_model = litellm_model
        self.api_base = api_base
        self.api_key = api_key
        self.response_format_mode = response_format_mode
        self.timeout_s = timeout_s
        self.native_n = native_n
        self.free = free
        self.parallel = parallel
        self.extra = dict(extra or {})

    def build_kwargs(self, request: LLMRequest, n: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.litellm_model,
            "messages": [m.model_dump() for m in request.messages],
            "timeout": self.timeout_s,
            "num_retries": 0,
            **self.extra,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if n > 1:
            kwargs["n"] = n
        response_format = build_response_format(self.response_format_mode, request.response_schema)
        if response_format is not None:
            kwargs["response_format"] = response_format
        # A callable api_base is resolved per call: the embedded server starts on first use.
        api_base = self.api_base() if callable(self.api_base) else self.api_base
        if api_base:
            kwargs["api_base"] = api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return kwargs

    def cost_bound(self, request: LLMRequest) -> float | None:
        """The most this request can cost, for the dollar budget: every byte of the prompt (and of the
        schema sent with it) counted as a token, since a BPE token covers at least one byte, and
        ``max_tokens`` for every sample, at litellm's price for the model. None when the model has no
        price (its cost is unknown either way) or its replies have no length cap."""
        if self.free:
            return 0.0
        import json

        import litellm

        max_tokens = request.max_tokens
        if max_tokens is None:
            try:
                max_tokens = litellm.get_max_tokens(self.litellm_model)
            except Exception:  # noqa: BLE001 - unknown to litellm's map
                return None
            if not max_tokens:
                return None
        requests = 1 if (self.native_n or request.n == 1) else request.n
        prompt_bytes = sum(len(m.content.encode()) + 8 for m in request.messages) + 16
        if request.response_schema is not None:
            prompt_bytes += len(json.dumps(request.response_schema))
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=self.litellm_model,
                prompt_tokens=prompt_bytes * requests,
                completion_tokens=max_tokens * request.n,
            )
        except Exception:  # noqa: BLE001 - a model litellm does not price
            return None
        return float(prompt_cost) + float(completion_cost)

    def _cost(self, response: Any) -> tuple[float, bool]:
        if self.free:
            return 0.0, True
        import litellm

        try:
            return float(litellm.completion_cost(completion_response=response)), True
        except Exception:  # noqa: BLE001 - an unpriced model is not an error, just an unknown cost
            return 0.0, False

    def build_text_kwargs(self, request: LLMRequest, n: int) -> dict[str, Any]:
        """``litellm.text_completion`` arguments for a raw completion: the prompt as is, no chat template.

        For an ``openai/<name>`` model that is not one of OpenAI's chat models (llama.cpp, vLLM...)
        litellm posts to the server's own ``/v1/completions``.
        """
        kwargs: dict[str, Any] = {
            "model": self.litellm_model,
            "prompt": request.prompt,
            "timeout": self.timeout_s,
            "num_retries": 0,
            **self.extra,
        }
        for name in ("temperature", "max_tokens", "seed"):
            if getattr(request, name) is not None:
                kwargs[name] = getattr(request, name)
        if n > 1:
            kwargs["n"] = n
        api_base = self.api_base() if callable(self.api_base) else self.api_base
        if api_base:
            kwargs["api_base"] = api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return kwargs

    def _one_call(self, request: LLMRequest, n: int) -> tuple[list[str], list[str], Usage, str]:
        import litellm

        try:
            if request.kind == "text":
                response = litellm.text_completion(**self.build_text_kwargs(request, n))
            else:
                response = litellm.completion(**self.build_kwargs(request, n))
        except Exception as error:  # noqa: BLE001 - every provider error is classified below
            raise classify_error(error, (self.api_key,)) from None
        if not response.choices:  # a provider glitch (seen behind proxies): worth another try
            raise LLMTransientError(f"{self.litellm_model} returned a reply with no choices")
        if request.kind == "text":
            texts = [(choice.text or "") for choice in response.choices]
        else:
            texts = [(choice.message.content or "") for choice in response.choices]
        reasons = [str(choice.finish_reason or "") for choice in response.choices]
        usage = getattr(response, "usage", None)
        cost, known = self._cost(response)
        return (
            texts,
            reasons,
            Usage(
                input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                cost_usd=cost,
                cost_known=known,
            ),
            str(getattr(response, "id", "") or ""),
        )

    def complete(self, request: LLMRequest) -> Completion:
        started = time.monotonic()
        sizes = [request.n] if (self.native_n or request.n == 1) else [1] * request.n
        # Separate calls standing in for n must not share a seed, or a seeded server returns n copies.
        subs = [
            request if index == 0 or request.seed is None else request.model_copy(update={"seed": request.seed + index})
            for index in range(len(sizes))
        ]
        replies = together(
            [partial(self._one_call, sub, n) for sub, n in zip(subs, sizes, strict=True)], parallel=self.parallel
        )
        texts: list[str] = []
        reasons: list[str] = []
        ids: list[str] = []
        totals = Usage()
        for got, why, usage, response_id in replies:
            texts += got
            reasons += why
            ids.append(response_id)
            totals = Usage(
                input_tokens=totals.input_tokens + usage.input_tokens,
                output_tokens=totals.output_tokens + usage.output_tokens,
                cost_usd=totals.cost_usd + usage.cost_usd,
                cost_known=totals.cost_known and usage.cost_known,
            )
        if len(texts) != request.n:
            raise LLMPermanentError(f"{self.litellm_model} returned {len(texts)} completions, expected {request.n}")
        return Completion(
            texts=tuple(texts),
            finish_reasons=tuple(reasons),
            usage=totals,
            latency_s=time.monotonic() - started,
            response_id=",".join(ids) if any(ids) else "",
        )
