"""The LLM seam: one request type, one completion type, one protocol every client implements."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


RequestKind = Literal["chat", "text"]


class LLMRequest(BaseModel):
    """One call. ``model`` is the logical model name (``local``, ``scripted``, a litellm string).

    ``kind`` is ``chat`` (``messages``, the chat-completions API) or ``text``: a raw completion of
    ``prompt`` with no chat template (``/v1/completions``, litellm's ``text_completion``), which the
    memorisation check needs to see how a model continues a text. Both go through the same layers
    (record, cache, budget, retry).

    ``sample_key`` separates sampled calls that would otherwise look identical (attempt 3 and
    attempt 4 of the same prompt must not share a cache entry); ``role``, ``prompt_id`` and
    ``attempt`` are bookkeeping and do not change the reply, so they stay out of the hash.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    kind: RequestKind = "chat"
    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    n: int = Field(default=1, ge=1, le=64)
    seed: int | None = None
    response_schema: dict[str, Any] | None = None
    sample_key: str = ""
    prompt_id: str = ""
    role: str = ""
    attempt: int | None = None

    @model_validator(mode="after")
    def _shape(self) -> LLMRequest:
        if self.kind == "chat" and (not self.messages or self.prompt is not None):
            raise ValueError("a chat request needs at least one message and no prompt")
        if self.kind == "text" and (self.prompt is None or self.messages):
            raise ValueError("a text (raw completion) request needs a prompt and no messages")
        return self

    def content_hash(self, endpoint_identity: str = "") -> str:
        payload = self.model_dump(
            include={"model", "messages", "temperature", "max_tokens", "n", "seed", "response_schema", "sample_key"}
        )
        if self.kind == "text":  # chat requests keep the keys they had before raw completion existed
            payload.update(kind=self.kind, prompt=self.prompt)
        payload["endpoint"] = endpoint_identity
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True


class Completion(BaseModel):
    """The reply: ``texts`` has ``request.n`` entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...] = ()
    usage: Usage = Usage()
    latency_s: float = 0.0
    request_hash: str = ""
    cached: bool = False
    retries: int = 0
    """Transient failures retried before this reply came (set by the retry layer)."""
    response_id: str = ""
    """The provider's id of the reply (comma-separated when n samples took several requests)."""

    @property
    def text(self) -> str:
        return self.texts[0]


@runtime_checkable
class LLMClient(Protocol):
    """Turns one request into one completion. Implementations must be thread-safe."""

    def complete(self, request: LLMRequest) -> Completion: ...
