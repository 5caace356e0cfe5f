import pytest

from benchmaker.errors import PromptError
from benchmaker.prompts import PromptLibrary, PromptTemplate


def test_shipped_prompts_load_and_declare_their_inputs():
    library = PromptLibrary()
    assert "direct.generate_mcq" in library.templates
    for template in library.templates.values():
        assert template.ref.startswith(f"{template.id}@{template.front.version}#")


def test_render_splits_messages_and_fails_on_missing_variables():
    template = PromptLibrary().get("direct.generate_mcq")
    messages = template.render(
        requirement="Chem", language="English", n_options=3, letters=["A", "B", "C"], schema="{}"
    )
    assert [m.role for m in messages] == ["system", "user"]
    assert "Chem" in messages[1].content and "B, C" in messages[1].content
    with pytest.raises(PromptError, match="missing variables \\['schema'\\]"):
        template.render(requirement="Chem", language="English", n_options=3, letters=["A"])


def test_declared_inputs_must_match_the_body(tmp_path):
    path = tmp_path / "bad.md.j2"
    path.write_text("---\nid: t.bad\nversion: 1\ndescription: d\ninputs: [a]\n---\n[user]\n{{ a }} {{ b }}\n")
    with pytest.raises(PromptError, match="differ from the variables used"):
        PromptTemplate(path)


def test_unknown_prompt_is_a_clear_error():
    with pytest.raises(PromptError, match="unknown prompt 'nope'"):
        PromptLibrary().get("nope")
