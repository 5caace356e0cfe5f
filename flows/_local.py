"""Start the embedded model for the duration of a flow when one of its roles uses it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def local_endpoint(needed: bool) -> Iterator[str | None]:
    if not needed:
        yield None
        return
    from benchmaker.local.server import local_model

    with local_model() as endpoint:
        yield endpoint.api_base
