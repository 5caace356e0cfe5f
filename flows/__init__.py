"""Prefect flows: thin orchestration over the benchmaker library."""

import os

# Offline machines: no telemetry, no fetching litellm's price map.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
