"""The configuration reference is generated from the models that validate a config, and kept current."""

import json

from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.config import RunConfig
from benchmaker.config_doc import config_reference
from tests.conftest import REPO


def _leaf_paths(model, prefix=""):
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}"
        inner = field.annotation
        for candidate in (inner, *getattr(inner, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                yield from _leaf_paths(candidate, f"{prefix}{name}.")
                break


def test_docs_config_md_is_the_generated_reference():
    # When this fails: benchmaker config-schema > docs/config.md
    assert (REPO / "docs" / "config.md").read_text(encoding="utf-8") == config_reference()


def test_every_key_a_config_accepts_is_documented_with_its_meaning():
    reference = config_reference()
    rows = {line.split("`")[1]: line for line in reference.splitlines() if line.startswith("| `")}
    documented_once = {"models.solver", "models.judge", "models.panel"}  # one table for every role's mapping
    for path in _leaf_paths(RunConfig):
        role = next((r for r in documented_once if path.startswith(r + ".")), None)
        path = path.replace(role, "models.generator", 1) if role else path
        assert path in rows, f"{path} is missing from the reference"
        assert not rows[path].rstrip().endswith("|  |"), f"{path} has no meaning in the reference"


def test_the_command_prints_the_reference_and_the_json_schema():
    runner = CliRunner()
    assert runner.invoke(app, ["config-schema"]).stdout == config_reference()
    schema = json.loads(runner.invoke(app, ["config-schema", "--json"]).stdout)
    assert schema["title"] == "RunConfig" and "requirement" in schema["required"]
