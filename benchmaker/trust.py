"""Whether a run directory may spend your credentials: runs are signed by the user who created them.

A run directory is untrusted input: someone can hand you one whose stored config points a role at
their own ``api_base``, with ``api_key_env`` naming any variable of your environment (or none, and
litellm sends the provider's default key). Resuming it would send the key to them. So every run is
signed when created, with an HMAC over its config under a key that never leaves this user's
``$BENCHMAKER_HOME`` (default ``~/.config/benchmaker``); a run whose signature does not verify (made
elsewhere, or its config edited) is only resumed, or used to generate a companion benchmark, when it
would send no credential anywhere, or when the user says so explicitly (``--trust-run``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from benchmaker.config import RunConfig
from benchmaker.errors import StoreError

KEY_FILE = "run-signing.key"
SCHEME = "hmac-sha256"


class UntrustedRunError(StoreError):
    """A run made elsewhere (or edited) would send this user's credentials to the endpoints it names."""


def home() -> Path:
    configured = os.environ.get("BENCHMAKER_HOME")
    return Path(configured) if configured else Path.home() / ".config" / "benchmaker"


def _signing_key() -> bytes | None:
    """This user's key, created on first use (0600). None when it can be neither read nor created."""
    path = home() / KEY_FILE
    with contextlib.suppress(FileNotFoundError, PermissionError):
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile
        with contextlib.suppress(OSError):
            return path.read_bytes() or None
        return None
    except OSError:
        return None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _payload(run_id: str, config: dict[str, Any]) -> bytes:
    return json.dumps({"run_id": run_id, "config": config}, sort_keys=True, separators=(",", ":")).encode()


def sign(run_id: str, config: dict[str, Any]) -> str | None:
    key = _signing_key()
    if key is None:
        return None
    return f"{SCHEME}:{hmac.new(key, _payload(run_id, config), hashlib.sha256).hexdigest()}"


def verifies(manifest: dict[str, Any]) -> bool:
    """Whether this user signed this manifest's config (and nobody edited it since)."""
    signature, config = manifest.get("signature"), manifest.get("config")
    if not isinstance(signature, str) or not isinstance(config, dict):
        return False
    expected = sign(str(manifest.get("run_id", "")), config)
    return expected is not None and hmac.compare_digest(signature, expected)


def credential_uses(config: RunConfig) -> list[str]:
    """What the config's roles would send where: every role that calls a provider with a key from the
    environment, or at an address the config chose."""
    uses = []
    for role in ("generator", "solver", "judge"):
        uses += _uses(role, getattr(config.models, role))
    for index, spec in enumerate(config.models.panel):
        uses += _uses(f"panel[{index}]", spec)
    return uses


def _uses(role: str, spec: Any) -> list[str]:
    if spec.is_local or spec.is_scripted:
        return []
    if spec.api_key_env is None and spec.api_base is None and not spec.extra:
        return []  # the provider's own endpoint with its default key: nobody else receives it
    key = f"${spec.api_key_env}" if spec.api_key_env else "the provider's default key"
    where = spec.api_base or f"{spec.model}'s provider"
    settings = f" with extra settings {sorted(spec.extra)}" if spec.extra else ""
    return [f"{role} sends {key} to {where}{settings}"]


def require_trusted(manifest: dict[str, Any], config: RunConfig, *, trusted: bool, action: str) -> None:
    """Raise UntrustedRunError when a run not signed here would send credentials somewhere."""
    if trusted or verifies(manifest):
        return
    uses = credential_uses(config)
    if uses:
        raise UntrustedRunError(
            f"{action}: this run was not created by you on this machine (or its config was edited), and it "
            f"would use your credentials: {'; '.join(uses)}. Check those endpoints, then pass --trust-run"
        )
