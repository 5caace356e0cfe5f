"""Generation methods: each turns an attempt number into a Draft or a Rejection."""

from __future__ import annotations

from benchmaker.config import RunConfig
from benchmaker.methods.base import GenerationContext, Method
from benchmaker.methods.direct import DirectMethod

METHODS: dict[str, type] = {"direct": DirectMethod}


def make_method(name: str, context: GenerationContext) -> Method:
    return METHODS[name](context)


def roles_of(config: RunConfig) -> tuple[str, ...]:
    return METHODS[config.method].roles


def needs_local_model(config: RunConfig) -> bool:
    return any(getattr(config.models, role).is_local for role in roles_of(config))


__all__ = ["METHODS", "GenerationContext", "Method", "make_method", "needs_local_model", "roles_of"]
