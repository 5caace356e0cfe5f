import pytest
from pydantic import BaseModel

from benchmaker.errors import ParseError
from benchmaker.llm.scripted import Script, ScriptedLLM
from benchmaker.llm.structured import ReplyInvalid, complete_structured, extract_json_object, parse_reply
from benchmaker.llm.types import LLMRequest, Message


class Answer(BaseModel):
    letter: str
    why: str


def test_extracts_bare_fenced_and_embedded_json():
    assert extract_json_object('{"a": 1}') == {"a": 1}
    assert extract_json_object('Sure!\n```json\n{"a": 2}\n```') == {"a": 2}
    assert extract_json_object('The result is {"a": 3} as asked.') == {"a": 3}


def test_raw_newlines_inside_strings_are_accepted():
    # llama.cpp's grammar lets control characters into strings
    assert extract_json_object('{"why": "line one\nline two"}') == {"why": "line one\nline two"}


def test_invalid_replies_say_why():
    with pytest.raises(ReplyInvalid, match="invalid JSON|no JSON"):
        extract_json_object("no json here")
    with pytest.raises(ReplyInvalid, match="why: Field required"):
        parse_reply('{"letter": "A"}', Answer)


def _request():
    return LLMRequest(model="scripted", messages=(Message(role="user", content="q"),), prompt_id="t.answer")


def test_repair_loop_feeds_the_error_back_and_succeeds():
    fake = ScriptedLLM(Script(responses={"t.answer": ['{"letter": "A"}', '{"letter": "A", "why": "because"}']}))
    result = complete_structured(fake, _request(), Answer, max_repairs=2)
    assert result.value == Answer(letter="A", why="because")
    assert len(result.completions) == 2
    repair = fake.requests[1]
    assert repair.messages[-1].role == "user" and "why: Field required" in repair.messages[-1].content
    assert repair.sample_key.endswith("repair=1")


def test_repair_loop_is_bounded():
    fake = ScriptedLLM(Script(responses={"t.answer": ["bad"] * 5}))
    with pytest.raises(ParseError) as caught:
        complete_structured(fake, _request(), Answer, max_repairs=1)
    assert caught.value.attempts == 2
    assert len(fake.requests) == 2


class _CutThenWhole:
    """A provider whose first reply is cut at the length limit."""

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest):  # noqa: ANN201 - a Completion
        from benchmaker.llm.types import Completion

        self.requests.append(request)
        if len(self.requests) == 1:
            return Completion(texts=('{"letter": "A", "why": "because the long',), finish_reasons=("length",))
        return Completion(texts=('{"letter": "A", "why": "short"}',), finish_reasons=("stop",))


def test_a_reply_cut_at_the_length_limit_is_re_asked_for_a_shorter_one():
    provider = _CutThenWhole()
    request = LLMRequest(model="m", messages=(Message(role="user", content="q"),), max_tokens=40)
    result = complete_structured(provider, request, Answer, max_repairs=1)
    assert result.value.why == "short"
    feedback = provider.requests[1].messages[-1].content
    assert "cut off at the length limit (40 tokens)" in feedback and "shorter" in feedback


def test_a_role_raises_its_reply_cap_for_long_replies_but_never_lowers_it():
    from benchmaker.config import Budget, LLMSettings, ModelSpec
    from benchmaker.llm.factory import build_role_model
    from benchmaker.llm.meter import Meter

    def role(max_tokens):
        spec = ModelSpec(model="scripted", max_tokens=max_tokens)
        meter = Meter(Budget())
        return build_role_model("generator", spec, settings=LLMSettings(), meter=meter, sink=None, cache_dir=None)

    messages = (Message(role="user", content="q"),)
    assert role(600).request(messages, prompt_id="p", min_tokens=1500).max_tokens == 1500
    assert role(3000).request(messages, prompt_id="p", min_tokens=1500).max_tokens == 3000
    assert role(600).request(messages, prompt_id="p").max_tokens == 600
