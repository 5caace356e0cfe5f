"""Builds the client stack for each model role: record -> cache -> budget -> retry -> provider."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from benchmaker.config import LLMSettings, ModelSpec
from benchmaker.errors import ConfigError
from benchmaker.items import CallRecord
from benchmaker.llm.cache import CachingClient
from benchmaker.llm.litellm_client import LiteLLMClient
from benchmaker.llm.meter import BudgetedClient, Meter, RecordingClient
from benchmaker.llm.retry import RetryingClient
from benchmaker.llm.scripted import scripted_from_model_name
from benchmaker.llm.structured import StructuredResult, complete_structured
from benchmaker.llm.types import Completion, LLMClient, LLMRequest, Message

# The embedded model is served under this alias; the key is a placeholder llama.cpp ignores.
T = TypeVar("T", bound=BaseModel)

LOCAL_ALIAS = "local"
LOCAL_PLACEHOLDER_KEY = "no-key-needed"


LocalApiBase = str | Callable[[], str] | None
"""The embedded server's address, or a callable that starts the server and returns it."""


def provider_client(spec: ModelSpec, *, local_api_base: LocalApiBase, script_dir: Path | None) -> tuple[LLMClient, str]:
    """The bare client for a spec, and the identity its cache entries are keyed under."""
    if spec.is_scripted:
        return scripted_from_model_name(spec.model, script_dir), spec.model
    if spec.is_local:
        if local_api_base is None:
            raise ConfigError("model 'local' needs the embedded model server; it was not started")
        from benchmaker.local.model_file import MODEL_SHA256

        client = LiteLLMClient(
            litellm_model=f"openai/{LOCAL_ALIAS}",
            api_base=local_api_base,
            api_key=LOCAL_PLACEHOLDER_KEY,
            response_format_mode="json_object_schema" if spec.response_format == "auto" else spec.response_format,
            timeout_s=spec.timeout_s,
            native_n=False,  # llama.cpp's server returns a single choice whatever n is
            free=True,
            extra=spec.extra,
        )
        # Keyed by the model file, not the port, so a restarted server still hits the cache.
        return client, f"local:{MODEL_SHA256[:16]}"
    api_key = None
    if spec.api_key_env:
        api_key = os.environ.get(spec.api_key_env)
        if not api_key:
            raise ConfigError(f"environment variable {spec.api_key_env} (api_key_env of {spec.model}) is not set")
    mode = spec.response_format
    if mode == "auto":
        mode = "json_schema" if _supports_schema(spec.model) else "json_object"
    client = LiteLLMClient(
        litellm_model=spec.model,
        api_base=spec.api_base,
        api_key=api_key,
        response_format_mode=mode,
        timeout_s=spec.timeout_s,
        native_n=_supports_n(spec.model),
        parallel=True,  # an API serves many requests at once
        extra=spec.extra,
    )
    return client, f"{spec.model}@{spec.api_base or ''}"


def _supports_n(model: str) -> bool:
    """Whether the provider returns n choices per request (Anthropic, Ollama, ... do not: n calls then)."""
    import litellm

    provider, _, name = model.partition("/")
    try:
        params = litellm.get_supported_openai_params(
            model=name or provider, custom_llm_provider=provider if name else None
        )
    except Exception:  # noqa: BLE001 - unknown to litellm: n separate calls are always correct
        return False
    return "n" in (params or [])


_RAW_PROVIDERS = {"text-completion-openai", "text-completion-codestral"}


def supports_raw_completion(spec: ModelSpec) -> bool:
    """Whether the model takes a raw prompt with no chat template (``/v1/completions``).

    Yes for the embedded model and the scripted fake; for litellm models, when litellm sends
    ``text_completion`` to a native completions endpoint: a text-completion provider, or an
    ``openai/<name>`` server (llama.cpp, vLLM...) whose name is not one of OpenAI's chat models.
    Anything else (litellm would wrap the prompt in a chat message) gets the continue-verbatim chat
    prompt instead.
    """
    if spec.is_local or spec.is_scripted:
        return True
    import litellm

    try:
        name, provider, _, _ = litellm.get_llm_provider(model=spec.model, api_base=spec.api_base)
    except Exception:  # noqa: BLE001 - unknown to litellm: no raw completion can be promised
        return False
    if provider in _RAW_PROVIDERS:
        return True
    return provider == "openai" and name not in litellm.open_ai_chat_completion_models


def _supports_schema(model: str) -> bool:
    import litellm

    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # noqa: BLE001 - unknown to litellm's map: use the portable mode
        return False


@dataclass
class RoleModel:
    """A model bound to a role: methods call this, never a provider directly."""

    role: str
    spec: ModelSpec
    client: LLMClient
    parallel: bool = False
    """Whether independent requests of one attempt (the judge's two readings, the k programs) may go out
    together: yes for an API, no for the embedded model's serial server and the scripted fake."""

    def request(
        self,
        messages: tuple[Message, ...],
        *,
        prompt_id: str,
        temperature: float | None = None,
        n: int = 1,
        seed: int | None = None,
        schema: dict[str, Any] | None = None,
        sample_key: str = "",
        attempt: int | None = None,
        min_tokens: int | None = None,
    ) -> LLMRequest:
        """``min_tokens`` raises the role's reply cap for a reply known to be long (never lowers it)."""
        max_tokens = self.spec.max_tokens
        if min_tokens is not None and max_tokens is not None:
            max_tokens = max(max_tokens, min_tokens)
        return LLMRequest(
            model=self.spec.model,
            messages=messages,
            temperature=self.spec.temperature if self.spec.temperature is not None else temperature,
            max_tokens=max_tokens,
            n=n,
            seed=seed,
            response_schema=schema,
            sample_key=sample_key,
            prompt_id=prompt_id,
            role=self.role,
            attempt=attempt,
        )

    def text_request(
        self,
        prompt: str,
        *,
        prompt_id: str,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int | None = None,
        sample_key: str = "",
    ) -> LLMRequest:
        """A raw completion of ``prompt`` (no chat template); the reply cap is the caller's, not the role's."""
        return LLMRequest(
            model=self.spec.model,
            kind="text",
            prompt=prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            sample_key=sample_key,
            prompt_id=prompt_id,
            role=self.role,
        )

    def complete(self, request: LLMRequest) -> Completion:
        return self.client.complete(request)

    def complete_structured(self, request: LLMRequest, model: type[T], max_repairs: int) -> StructuredResult[T]:
        return complete_structured(self.client, request, model, max_repairs)


def build_role_model(
    role: str,
    spec: ModelSpec,
    *,
    settings: LLMSettings,
    meter: Meter,
    sink: Callable[[CallRecord], None] | None,
    cache_dir: Path | None,
    local_api_base: LocalApiBase = None,
    script_dir: Path | None = None,
    provider: LLMClient | None = None,
    parallel: bool | None = None,
) -> RoleModel:
    """``provider`` replaces the client the spec would select (custom clients, tests). ``parallel`` (None:
    decided by the model, see :func:`parallel_requests`) lets independent requests go out together."""
    if provider is not None:
        client, identity = provider, spec.model
    else:
        client, identity = provider_client(spec, local_api_base=local_api_base, script_dir=script_dir)
    client = RetryingClient(client, max_retries=settings.max_retries, max_backoff_s=settings.max_backoff_s)
    client = BudgetedClient(client, meter)
    if settings.cache and cache_dir is not None:
        client = CachingClient(client, cache_dir, endpoint_identity=identity)
    if parallel is None:
        parallel = provider is None and parallel_requests(spec)
    return RoleModel(role=role, spec=spec, client=RecordingClient(client, meter, sink), parallel=parallel)


def parallel_requests(spec: ModelSpec) -> bool:
    """An API takes independent requests together; the embedded model's server is serial, and the scripted
    fake's tests read its calls in order."""
    return not (spec.is_local or spec.is_scripted)
