"""benchmaker: a requirement in, a reliable multiple-choice benchmark out."""

from benchmaker.config import ModelSpec, Requirement, RunConfig, load_config, parse_config
from benchmaker.errors import BenchmakerError, BudgetExceeded, ConfigError
from benchmaker.items import MCQ, BenchmarkItem, Rejection
from benchmaker.llm.types import Completion, LLMClient, LLMRequest, Message

__version__ = "0.1.0"

__all__ = [
    "MCQ",
    "BenchmakerError",
    "BenchmarkItem",
    "BudgetExceeded",
    "Completion",
    "ConfigError",
    "LLMClient",
    "LLMRequest",
    "Message",
    "ModelSpec",
    "Requirement",
    "Rejection",
    "RunConfig",
    "load_config",
    "parse_config",
]
