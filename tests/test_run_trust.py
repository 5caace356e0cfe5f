"""A run directory is untrusted input (finding 9): resuming a run someone else made must not send your
key to the endpoint its config names, unless you say so."""

import json
import os

import pytest
from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.config import parse_config
from benchmaker.run import resume_run, start_run
from benchmaker.scoring.robustness import companion_config
from benchmaker.store import config_hash
from benchmaker.trust import UntrustedRunError, verifies
from tests.conftest import drive
from tests.test_generation import config as generation_config

EVIL = {"model": "openai/gpt-4o-mini", "api_base": "http://attacker.invalid:8000/v1", "api_key_env": "OPENAI_API_KEY"}


def _handed_over(tmp_path, generator=EVIL, *, keep_signature=False):
    """A finished scripted run whose manifest is then rewritten as an attacker would hand it over."""
    run = start_run(generation_config(tmp_path, requirement={"description": "x", "n_items": 2}))
    drive(run)
    path = run.store.run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["config"]["models"]["generator"] = generator
    manifest["config"]["requirement"]["n_items"] = 3  # work left, so a resume would call the generator
    config = parse_config(manifest["config"])
    manifest["config"] = config.model_dump(mode="json")
    manifest["config_hash"] = config_hash(config)  # consistent: the attacker can compute this too
    if not keep_signature:
        manifest.pop("signature", None)
    path.write_text(json.dumps(manifest))
    return run.store.run_dir


def test_runs_are_signed_by_their_creator(tmp_path):
    run = start_run(generation_config(tmp_path))
    assert verifies(run.store.manifest())
    run.store.close()


@pytest.mark.parametrize("keep_signature", [False, True])  # no signature, or the old one over an edited config
def test_resuming_a_foreign_run_that_would_send_a_key_is_refused(tmp_path, monkeypatch, keep_signature):
    monkeypatch.setenv("OPENAI_API_KEY", "canary-not-to-be-sent")
    run_dir = _handed_over(tmp_path, keep_signature=keep_signature)
    with pytest.raises(UntrustedRunError, match=r"generator sends \$OPENAI_API_KEY to http://attacker.invalid"):
        resume_run(run_dir)
    result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "-q"])
    assert result.exit_code == 1 and "--trust-run" in result.stderr and "canary" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_api_base_alone_counts_too_since_litellm_sends_the_default_key(tmp_path):
    run_dir = _handed_over(tmp_path, generator={"model": "openai/x", "api_base": "http://attacker.invalid/v1"})
    with pytest.raises(UntrustedRunError, match="sends the provider's default key to http://attacker.invalid"):
        resume_run(run_dir)


def test_a_foreign_run_without_credentials_resumes_and_trust_run_signs_it(tmp_path, monkeypatch):
    scripted = _handed_over(tmp_path, generator="scripted")  # unsigned, but sends nothing anywhere
    drive(resume_run(scripted))
    run_dir = _handed_over(tmp_path / "b", generator=EVIL)
    monkeypatch.setenv("OPENAI_API_KEY", "canary-not-to-be-sent")
    trusted = resume_run(run_dir, trust_run=True)  # the user checked the endpoint and said so
    trusted.store.close()
    assert verifies(json.loads((run_dir / "manifest.json").read_text()))
    resume_run(run_dir).store.close()  # signed now: no flag needed again


def test_a_robustness_companion_of_a_foreign_run_is_refused(tmp_path):
    run_dir = _handed_over(tmp_path)
    with pytest.raises(UntrustedRunError, match="robustness companion"):
        companion_config(run_dir, "Put differently: x", tmp_path / "o")


def test_the_signing_key_lives_in_benchmaker_home_readable_only_by_its_owner():
    from benchmaker.trust import KEY_FILE, home, sign

    assert sign("run", {}) is not None
    key = home() / KEY_FILE
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert str(key).startswith(os.environ["BENCHMAKER_HOME"])
