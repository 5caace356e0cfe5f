"""A disk cache of completions keyed by the content hash of the request."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import diskcache

from benchmaker.llm.types import Completion, LLMClient, LLMRequest


@cache
def _open(cache_dir: Path) -> diskcache.Cache:
    """One handle per directory, shared by every role's client in the process.

    SQLite-backed, safe across threads and processes; entries are never evicted.
    """
    return diskcache.Cache(str(cache_dir), size_limit=2**40, eviction_policy="none")


class CachingClient:
    """Answers repeated requests from disk, so a resumed run never pays twice.

    ``endpoint_identity`` joins the key so two endpoints serving different models under one name
    do not share entries; for the embedded model it is the fixed model file, not the port.
    """

    def __init__(self, inner: LLMClient, cache_dir: Path, endpoint_identity: str = "") -> None:
        self.inner = inner
        self.endpoint_identity = endpoint_identity
        self.store = _open(Path(cache_dir).resolve())

    def complete(self, request: LLMRequest) -> Completion:
        key = request.content_hash(self.endpoint_identity)
        hit = self.store.get(key)
        if hit is not None:
            return Completion.model_validate_json(hit).model_copy(update={"cached": True, "request_hash": key})
        completion = self.inner.complete(request).model_copy(update={"request_hash": key})
        self.store.set(key, completion.model_dump_json())
        return completion
