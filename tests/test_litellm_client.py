"""The litellm client, offline: request building, pricing from the bundled map, error mapping."""

import httpx
import litellm
import pytest

from benchmaker.errors import LLMFatalError, LLMPermanentError, LLMTransientError
from benchmaker.llm.litellm_client import LiteLLMClient, build_response_format, classify_error, parse_retry_after
from benchmaker.llm.types import LLMRequest, Message, Usage

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


def request(**kwargs):
    return LLMRequest(model="m", messages=(Message(role="user", content="hi"),), **kwargs)


def test_build_kwargs_carries_only_what_was_set():
    client = LiteLLMClient(
        litellm_model="openai/x",
        api_base="http://127.0.0.1:1/v1",
        api_key="k",
        response_format_mode="json_object_schema",
    )
    kwargs = client.build_kwargs(request(temperature=0.5, max_tokens=9, seed=3, response_schema=SCHEMA), n=1)
    assert kwargs["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert (kwargs["temperature"], kwargs["max_tokens"], kwargs["seed"]) == (0.5, 9, 3)
    assert kwargs["num_retries"] == 0, "retries are ours, never litellm's"
    assert "n" not in kwargs and "fallbacks" not in kwargs
    bare = LiteLLMClient(litellm_model="openai/x").build_kwargs(request(), n=2)
    assert "api_base" not in bare and "temperature" not in bare and bare["n"] == 2


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "json_schema",
            {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA, "strict": False}},
        ),
        ("json_object", {"type": "json_object"}),
        ("none", None),
    ],
)
def test_response_format_dialects(mode, expected):
    assert build_response_format(mode, SCHEMA) == expected


def test_priced_model_is_metered_in_dollars():
    client = LiteLLMClient(litellm_model="gpt-4o-mini", extra={"mock_response": '{"a": 1}'})
    completion = client.complete(request())
    assert completion.text == '{"a": 1}'
    assert completion.usage.cost_known and completion.usage.cost_usd > 0
    assert completion.usage.output_tokens > 0


def test_unpriced_model_is_marked_not_guessed():
    client = LiteLLMClient(litellm_model="openai/not-in-the-map", extra={"mock_response": "ok"})
    usage = client.complete(request()).usage
    assert (usage.cost_known, usage.cost_usd) == (False, 0.0)


def test_n_completions_by_repeated_calls_when_the_endpoint_lacks_n():
    client = LiteLLMClient(litellm_model="openai/x", native_n=False, free=True, extra={"mock_response": "ok"})
    sent = []
    client._one_call = lambda req, n: (sent.append((req.seed, n)), (["ok"], ["stop"], Usage(), f"id-{req.seed}"))[1]
    completion = client.complete(request(n=3).model_copy(update={"seed": 40}))
    assert completion.texts == ("ok", "ok", "ok") and completion.response_id == "id-40,id-41,id-42"
    # one request per sample, each with its own seed: a seeded server would otherwise repeat itself
    assert sent == [(40, 1), (41, 1), (42, 1)]


def test_providers_without_n_get_n_calls():
    from benchmaker.llm.factory import _supports_n

    assert _supports_n("openai/gpt-4o-mini") and _supports_n("gpt-4o-mini")
    assert not _supports_n("anthropic/claude-3-5-haiku-latest") and not _supports_n("ollama/llama3")


def test_error_mapping_and_retry_after():
    response = httpx.Response(429, headers={"retry-after": "12"}, request=httpx.Request("POST", "http://x"))
    limited = classify_error(
        litellm.RateLimitError(message="slow", llm_provider="openai", model="m", response=response)
    )
    assert isinstance(limited, LLMTransientError) and limited.retry_after == 12
    denied = classify_error(litellm.AuthenticationError(message="bad key", llm_provider="openai", model="m"))
    assert isinstance(denied, LLMFatalError), "a bad key fails every call: stop, do not reject item by item"
    bad_request = classify_error(litellm.BadRequestError(message="too long", llm_provider="openai", model="m"))
    assert isinstance(bad_request, LLMPermanentError) and not isinstance(bad_request, LLMFatalError)
    assert isinstance(classify_error(ValueError("odd")), LLMPermanentError)


def test_retry_after_formats():
    assert parse_retry_after("3") == 3
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: no wait
    assert parse_retry_after("soon") is None
