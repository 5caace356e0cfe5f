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
