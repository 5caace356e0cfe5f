"""The LLM seam: request/completion types, the litellm client, the scripted fake and the wrappers."""
