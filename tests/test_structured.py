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
