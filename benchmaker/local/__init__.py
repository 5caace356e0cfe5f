"""Embedded local model: assemble the shipped GGUF and serve it over an OpenAI-compatible API."""

from benchmaker.local.errors import LocalModelError
from benchmaker.local.model_file import (
    MODEL_NAME,
    MODEL_SHA256,
    MODEL_SIZE_BYTES,
    PART_COUNT,
    assemble,
    default_cache_dir,
    ensure_model_file,
    find_parts,
)
from benchmaker.local.server import (
    LocalEndpoint,
    LocalModelServer,
    local_model,
    server_status,
    start_detached,
    stop_detached,
)

__all__ = [
    "MODEL_NAME",
    "MODEL_SHA256",
    "MODEL_SIZE_BYTES",
    "PART_COUNT",
    "LocalEndpoint",
    "LocalModelError",
    "LocalModelServer",
    "assemble",
    "default_cache_dir",
    "ensure_model_file",
    "find_parts",
    "local_model",
    "server_status",
    "start_detached",
    "stop_detached",
]
