"""Hostile or broken input files: one line naming the file and the problem, never a traceback, never
silent coercion (findings 7 and 8). Every case here goes through the real command line, in-process."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.config import load_config
from benchmaker.errors import ConfigError
from benchmaker.scoring.benchmarks import BenchmarkLoadError, load_benchmark

runner = CliRunner()


def one_line_error(args: list[str], *needles: str, code: int | None = None) -> str:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def alias_bomb(levels: int = 7) -> str:
    """Nested aliases under a role's extra: 10 ** levels strings once expanded (the review's 681 bytes)."""
    lines = ["requirement: {description: x, n_items: 1}", "models:", "  generator:", "    model: scripted"]
    lines.append("    extra:")
    lines.append('      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 10)
        lines.append(f"      l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_validate_and_run(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 800
    one_line_error(["validate", str(path)], "bomb.yaml", "alias", code=2)
    one_line_error(["run", str(path), "-q"], "bomb.yaml", "alias", code=2)
    assert not (tmp_path / "outputs").exists()


def test_ordinary_aliases_still_work(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text(
        "requirement: {description: x, n_items: 1}\n"
        "models:\n  generator: &m {model: scripted, max_tokens: 300}\n  solver: *m\n  judge: *m\n  panel: [*m]\n"
    )
    config = load_config(path)
    assert config.models.solver.max_tokens == 300 and config.models.panel[0].model == "scripted"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"requirement: {description: caf\xe9, n_items: 1}\n", "not UTF-8 text (line 1, byte 0xe9)"),
        (b"requirement: {description: x, n_items: " + b"7" * 5000 + b"}\n", "4300"),
        (b"requirement: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested"),
        (b"a: [1, 2\n", "invalid YAML"),
    ],
)
def test_broken_config_files_are_one_line(tmp_path, content, needle):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    one_line_error(["validate", str(path)], "broken.yaml", needle, code=2)


def test_broken_scripts_and_attribute_files_are_one_line(tmp_path):
    from benchmaker.llm.scripted import load_script
    from benchmaker.methods.benchmaker.attributes import load_attributes

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"responses: {x: ['\xff']}\n")
    with pytest.raises(ConfigError, match="script .*bad.yaml is not UTF-8"):
        load_script(bad)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    with pytest.raises(ConfigError, match="attributes file .*bomb.yaml.*alias"):
        load_attributes(bomb)


def _jsonl(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


GOOD_LINE = json.dumps({"question": "1+1?", "choices": ["1", "2"], "answer": "B"}).encode()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (b'{"question": "caf\xe9?", "choices": ["1", "2"], "answer": "B"}', "not UTF-8 text (line 2"),
        (b'{"question": "q?", "choices": ["1", "2"], "answer": ' + b"1" * 5000 + b"}", "set.jsonl:2: unreadable"),
        (b'{"question": "q?", "choices": ["1", "2"], "answer": 0, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
         "set.jsonl:2: JSON nested too deeply"),
        (b'{"question": "q?", "choices": ["1", "2"], "answer": true}', "set.jsonl:2: answer"),
        (b'{"question": "q?", "choices": [1, 2], "answer": 0}', "set.jsonl:2: choices"),
        (b'["not", "an", "object"]', "set.jsonl:2"),
    ],
)  # fmt: skip
def test_broken_benchmark_lines_are_one_line_naming_file_and_line(tmp_path, line, needle):
    path = _jsonl(tmp_path, GOOD_LINE, line)
    with pytest.raises(BenchmarkLoadError, match="set.jsonl"):
        load_benchmark(path)
    one_line_error(["score", str(path), "--outputs-dir", str(tmp_path / "o"), "-q"], needle)


def test_an_answer_of_true_is_not_read_as_b(tmp_path):
    path = _jsonl(tmp_path, GOOD_LINE, b'{"question": "2+2?", "choices": ["3", "4"], "answer": true}')
    with pytest.raises(BenchmarkLoadError, match=r"set.jsonl:2: answer"):
        load_benchmark(path)


def test_a_csv_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "mmlu.csv"
    path.write_bytes(b"q1,a,b,c,d,A\nq\xff2,a,b,c,d,B\n")
    one_line_error(["score", str(path), "--outputs-dir", str(tmp_path / "o"), "-q"], "mmlu.csv", "line 2")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.yaml", None, "cannot read reference scores"),
        ("scores.yaml", "model-a: [1, 2\n", "invalid YAML in reference scores"),
        ("scores.yaml", "model-a: 1.7\n", "must map model names to accuracies"),
        ("scores.json", '{"m": ' + "1" * 5000 + "}", "4300"),
        ("missing.jsonl", None, "missing.jsonl"),
    ],
)
def test_a_missing_or_invalid_reference_is_one_line(tmp_path, name, content, needle):
    benchmark = _jsonl(tmp_path, GOOD_LINE)
    reference = tmp_path / name
    if content is not None:
        reference.write_text(content)
    one_line_error(
        ["score", str(benchmark), "--reference", str(reference), "--outputs-dir", str(tmp_path / "o"), "-q"],
        needle,
    )


def test_a_run_directory_with_garbage_metadata_is_one_line(tmp_path):
    from benchmaker.run import start_run
    from tests.conftest import drive
    from tests.test_generation import config

    run = start_run(config(tmp_path, requirement={"description": "x", "n_items": 1}))
    drive(run)
    path = run.store.run_dir / "benchmark.jsonl"
    item = json.loads(path.read_text())
    item["metadata"]["difficulty"] = "very"
    path.write_text(json.dumps(item) + "\n")
    one_line_error(["score", str(run.store.run_dir), "--outputs-dir", str(tmp_path / "o"), "-q"], "difficulty")
    (run.store.run_dir / "manifest.json").write_text(yaml.safe_dump(["not", "a", "mapping"]))
    one_line_error(["run", "--resume", str(run.store.run_dir), "-q"], "manifest.json")


@pytest.mark.parametrize(
    "reply",
    ['{"answer": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000, '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"],
)
def test_model_replies_with_huge_numbers_or_deep_nesting_are_invalid_replies_not_crashes(reply):
    from pydantic import BaseModel

    from benchmaker.llm.structured import ReplyInvalid, parse_reply
    from benchmaker.scoring.panel import parse_letter

    class Answer(BaseModel):
        answer: str

    with pytest.raises(ReplyInvalid):
        parse_reply(reply, Answer)
    assert parse_letter(reply, 4) is None
