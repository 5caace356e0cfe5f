"""A simulated LLM provider: an OpenAI-compatible HTTP server on 127.0.0.1 that answers with the scripted
fake's replies, with a seeded latency model and fault mix (429 with Retry-After, 500/503, connection
reset, a reply slower than the client's timeout, truncated JSON, non-JSON text, empty choices, a reply
that breaks its schema). Used by the fault and kill tests, the throughput benchmark, and users who want
to dry-run a config through the real litellm path (``openai/<name>`` with ``api_base``)."""

from benchmaker.simulate.faults import FAULT_KINDS, FaultMix, LatencyModel, SimulationSettings
from benchmaker.simulate.server import SimulatedProvider

__all__ = ["FAULT_KINDS", "FaultMix", "LatencyModel", "SimulatedProvider", "SimulationSettings"]
