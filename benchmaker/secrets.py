"""Keeping secrets out of configs, and out of every message built from a provider's error.

A config is stored in each run's manifest and passed to Prefect as a flow parameter (so it lands in
Prefect's database): nothing in it may be a key. Keys live in environment variables, named by
``api_key_env``; these checks refuse a config that carries one anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_KEY_LIKE_NAME = re.compile(
    r"(api[-_]?key|secret|passw(or)?d|passphrase|credential|authori[sz]ation|bearer|cookie|"
    r"private[-_]?key|access[-_]?key|session[-_]?(id|key)|signature|(^|[-_])sig$|(^|[-_])token$|^key$|(^|[-_])auth$)",
    re.IGNORECASE,
)
"""A field name that holds a credential. ``max_tokens``, ``top_k`` and the like do not match."""

_KEY_LIKE_VALUE = re.compile(
    r"(^|\s)(bearer\s+\S{8,}|basic\s+[A-Za-z0-9+/=]{8,})|"  # an Authorization header's value
    r"\b(sk|pk|rk)-[A-Za-z0-9_-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}\b|"
    r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bhf_[A-Za-z0-9]{30,}",
    re.IGNORECASE,
)
"""A value shaped like a provider key (OpenAI/Anthropic-style ``sk-``, AWS, Google, GitHub, Slack, HF)."""

REDACTED = "[redacted]"


def key_like_fields(data: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of every mapping key that names a credential, or value shaped like one, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if _KEY_LIKE_NAME.search(str(key)):
                yield here
            else:
                yield from key_like_fields(value, here)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from key_like_fields(value, f"{path}[{index}]")
    elif isinstance(data, str) and _KEY_LIKE_VALUE.search(data):
        yield path or "value"


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be stored (credentials in it), or None."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@); put the key in an environment variable"
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _KEY_LIKE_NAME.search(name) or _KEY_LIKE_VALUE.search(value):
            return f"must not carry credentials (query parameter {name!r}); put the key in an environment variable"
    if _KEY_LIKE_VALUE.search(url):
        return "must not carry credentials; put the key in an environment variable"
    return None


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret (at least 4 characters) replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
