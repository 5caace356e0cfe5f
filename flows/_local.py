"""The embedded model for the duration of a flow: started on the first call that needs it.

A run whose work is already done (a resume of a finished run, a re-scored job) never loads the
model. The server is started from a keeper thread that lives until the flow ends, because Linux's
parent-death signal, which kills the server if the run is SIGKILLed, follows the thread that
spawned it; a task-runner worker thread could end sooner.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class LazyLocalEndpoint:
    """Callable returning the server's ``api_base``, starting the server on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._api_base: str | None = None
        self._error: BaseException | None = None

    def __call__(self) -> str:
        with self._lock:
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="local-model-keeper", daemon=True)
                self._keeper.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self._api_base is not None
        return self._api_base

    def _keep(self) -> None:
        from benchmaker.local.server import local_model

        try:
            with local_model() as endpoint:
                self._api_base = endpoint.api_base
                self._ready.set()
                self._stop.wait()
        except BaseException as error:  # noqa: BLE001 - handed to the caller waiting in __call__
            self._error = error
            self._ready.set()

    def close(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()


_shared: dict[str, object] = {"endpoint": None, "users": 0}
_shared_lock = threading.Lock()


@contextlib.contextmanager
def local_endpoint(needed: bool) -> Iterator[LazyLocalEndpoint | None]:
    """Re-entrant: a subflow (robustness generation inside scoring) shares its parent's endpoint
    instead of loading a second copy of the model onto the same cores."""
    if not needed:
        yield None
        return
    with _shared_lock:
        if _shared["endpoint"] is None:
            _shared["endpoint"] = LazyLocalEndpoint()
        _shared["users"] += 1  # type: ignore[operator]
        endpoint = _shared["endpoint"]
    try:
        yield endpoint  # type: ignore[misc]
    finally:
        with _shared_lock:
            _shared["users"] -= 1  # type: ignore[operator]
            last = _shared["users"] == 0
            if last:
                _shared["endpoint"] = None
        if last:
            endpoint.close()  # type: ignore[union-attr]
