import pytest
from pydantic import ValidationError

from benchmaker.items import MCQ, BenchmarkItem


def test_valid_mcq_has_letter_and_stable_id():
    mcq = MCQ(question="2+2?", choices=("3", "4", "5"), answer_index=1)
    assert mcq.answer_letter == "B"
    assert mcq.content_id() == MCQ(question=" 2+2? ", choices=("3", "4", "5"), answer_index=1).content_id()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": "q", "choices": ("a", "A "), "answer_index": 0}, "not unique"),
        ({"question": "q", "choices": ("a", " "), "answer_index": 0}, "blank"),
        ({"question": "  ", "choices": ("a", "b"), "answer_index": 0}, "blank"),
        ({"question": "q", "choices": ("a", "b"), "answer_index": 2}, "out of range"),
        ({"question": "q", "choices": ("a",), "answer_index": 0}, "at least 2"),
    ],
)
def test_invalid_mcq_is_rejected_not_repaired(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        MCQ(**kwargs)


def test_benchmark_item_letter_must_match_index():
    with pytest.raises(ValidationError, match="does not match"):
        BenchmarkItem(id="x", question="q", choices=["a", "b"], answer="A", answer_index=1)
