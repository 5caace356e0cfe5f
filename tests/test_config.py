from pathlib import Path

import pytest

from benchmaker.config import ModelSpec, apply_overrides, load_config, parse_config
from benchmaker.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

GOOD = {"requirement": {"description": "Stoichiometry.", "n_items": 3}}


def test_examples_are_valid():
    for path in sorted((REPO / "examples").glob("*.yaml")):
        config = load_config(path)
        assert config.requirement.n_items > 0


def test_defaults_and_shorthand():
    config = parse_config({**GOOD, "models": {"generator": "openai/gpt-4o-mini"}})
    assert config.requirement.n_options == 4
    assert config.models.generator == ModelSpec(model="openai/gpt-4o-mini")
    assert config.models.solver.is_local


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**GOOD, "colour": "blue"}, "colour: unknown key"),
        ({"requirement": {"description": "   ", "n_items": 3}}, "requirement.description"),
        ({"requirement": {"description": "x", "n_items": 3, "n_options": 1}}, "requirement.n_options"),
        ({"requirement": {"description": "x", "n_items": 3, "n_options": 11}}, "requirement.n_options"),
        ({"requirement": {"description": "x", "n_items": 0}}, "requirement.n_items"),
        ({"requirement": {"description": "x", "n_items": -2}}, "requirement.n_items"),
        ({**GOOD, "models": {"critic": "local"}}, "models.critic: unknown key"),
        ({**GOOD, "models": {"generator": {"model": "x", "api_key": "secret-value"}}}, "api_key_env"),
    ],
)
def test_bad_config_names_the_field(data, field):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    message = str(caught.value)
    assert field in message
    assert "\n" not in message
    assert "secret-value" not in message


def test_overrides_set_every_role_and_target():
    data = apply_overrides(GOOD, n_items=7, model="scripted", requirement="Other text.")
    config = parse_config(data)
    assert config.requirement.n_items == 7
    assert config.requirement.description == "Other text."
    assert {spec.model for spec in config.models.all_specs()} == {"scripted"}


def test_unreadable_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing)


def test_model_flag_switches_every_role_but_keeps_portable_settings():
    data = {
        **GOOD,
        "models": {
            "generator": {"model": "openai/x", "api_base": "http://h/v1", "max_tokens": 600},
            "solver": "openai/y",
            "panel": ["a", "b"],
        },
    }
    config = parse_config(apply_overrides(data, model="local"))
    assert config.models.generator == ModelSpec(model="local", max_tokens=600)  # api_base belonged to openai/x
    assert config.models.solver == ModelSpec(model="local") and config.models.judge == ModelSpec(model="local")
    assert config.models.panel == (ModelSpec(model="local"),)


# -- no secrets in a config (finding 6) ----------------------------------------------------------


def _role(**spec):
    return {**GOOD, "models": {"generator": {"model": "openai/x", **spec}}}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"extra": {"api_key": "secret-value"}}, "extra: api_key looks like a credential"),
        ({"extra": {"apiKey": "secret-value"}}, "extra: apiKey looks like a credential"),
        ({"extra": {"extra_headers": {"Authorization": "secret-value"}}}, "extra_headers.Authorization"),
        ({"extra": {"extra_headers": {"X-Api-Key": "secret-value"}}}, "X-Api-Key"),
        ({"extra": {"aws_secret_access_key": "secret-value"}}, "aws_secret_access_key"),
        ({"extra": {"azure_ad_token": "secret-value"}}, "azure_ad_token"),
        ({"extra": {"vertex_credentials": "secret-value"}}, "vertex_credentials"),
        ({"extra": {"metadata": ["sk-secret-value-0123456789abcdef"]}}, "extra: metadata[0] looks like a credential"),
        ({"extra": {"api_base": "http://h/v1"}}, "belongs in the role's own api_base"),
        ({"api_base": "https://user:secret-value@host/v1"}, "must not carry credentials (user:password@)"),
        ({"api_base": "https://host/v1?api_key=secret-value"}, "query parameter 'api_key'"),
        ({"api_base": "https://host/v1?x=sk-secret-value-0123456789abcdef"}, "must not carry credentials"),
        ({"api_base": "file:///etc/passwd"}, "http:// or https://"),
    ],
)
def test_a_credential_anywhere_in_a_role_is_refused_without_being_echoed(spec, field):
    with pytest.raises(ConfigError) as caught:
        parse_config(_role(**spec))
    assert field in str(caught.value)
    assert "secret-value" not in str(caught.value)


def test_ordinary_extras_and_endpoints_pass():
    extra = {"top_p": 0.9, "max_completion_tokens": 10, "extra_headers": {"X-Route": "eu"}, "stop": ["\n\n"]}
    config = parse_config(_role(extra=extra, api_base="http://127.0.0.1:8000/v1?api-version=2024-01-01"))
    assert config.models.generator.extra == extra


def test_score_settings_refuse_keys_too():
    from pydantic import ValidationError

    from benchmaker.scoring.settings import ScoreSettings

    with pytest.raises(ValidationError, match="looks like a credential"):
        ScoreSettings(judge={"model": "openai/x", "extra": {"api_key": "secret-value"}})


def test_a_provider_echoing_the_key_is_redacted_from_the_error():
    import litellm

    from benchmaker.llm.litellm_client import classify_error

    key = "canary-key-0123456789"
    error = litellm.AuthenticationError(message=f"Incorrect API key provided: {key}", llm_provider="openai", model="m")
    message = str(classify_error(error, (key,)))
    assert key not in message and "[redacted]" in message
