"""Generation methods: each turns an attempt number into a Draft or a Rejection."""

from __future__ import annotations

from benchmaker.config import RunConfig
from benchmaker.methods.base import GenerationContext, Method, MethodSetupError
from benchmaker.methods.benchmaker import BenchMakerMethod
from benchmaker.methods.direct import DirectMethod

METHODS: dict[str, type] = {"benchmaker": BenchMakerMethod, "direct": DirectMethod}


def make_method(name: str, context: GenerationContext) -> Method:
    return METHODS[name](context)


def roles_of(config: RunConfig) -> tuple[str, ...]:
    """The model roles a config's method calls: only these are built (and may start the local model)."""
    return METHODS[config.method].required_roles(config)


def needs_local_model(config: RunConfig) -> bool:
    return any(getattr(config.models, role).is_local for role in roles_of(config))


__all__ = [
    "METHODS",
    "GenerationContext",
    "Method",
    "MethodSetupError",
    "make_method",
    "needs_local_model",
    "roles_of",
]
