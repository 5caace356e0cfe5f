"""Start the embedded model for the duration of a flow when one of its roles uses it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_shared: dict[str, object] = {"api_base": None, "users": 0}


@contextlib.contextmanager
def local_endpoint(needed: bool) -> Iterator[str | None]:
    """Re-entrant: a subflow (robustness generation inside scoring) reuses the server its parent started,
    instead of loading a second copy of the model onto the same two cores."""
    if not needed:
        yield None
        return
    with _lock:
        if _shared["users"]:
            _shared["users"] += 1
            reuse = True
        else:
            reuse = False
    if reuse:
        try:
            yield _shared["api_base"]  # type: ignore[misc]
        finally:
            with _lock:
                _shared["users"] -= 1
        return
    from benchmaker.local.server import local_model

    with local_model() as endpoint:
        with _lock:
            _shared.update(api_base=endpoint.api_base, users=1)
        try:
            yield endpoint.api_base
        finally:
            with _lock:
                _shared.update(api_base=None, users=0)
