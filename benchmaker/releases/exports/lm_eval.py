"""lm-evaluation-harness: two task YAMLs over one JSONL, cloze style and MMLU's lettered style.

* ``<task>``: the options are the continuations (``doc_to_choice`` the choices, ``doc_to_target`` the
  index), scored by ``acc`` and ``acc_norm`` (length-normalised log-likelihood).
* ``<task>_mmlu``: the options are written into the prompt as ``A. ...`` and the continuations are
  the letters, as lm-eval's own MMLU task; only ``acc`` means something there (one-letter choices).

``data_files`` is absolute: lm-eval resolves a relative one against the caller's working directory,
not the YAML's. Run: ``lm_eval --model ... --tasks <task>,<task>_mmlu --include_path <this folder>``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmaker.releases.exports.common import DATA_FILE, ExportContext, task_identifier, write_rows

FOLDER = "lm_eval"
LETTERED_TEXT = (
    "{{question.strip()}}\n"
    "{% for choice in choices %}{{ 'ABCDEFGHIJ'[loop.index0] }}. {{ choice }}\n{% endfor %}"
    "Answer:"
)
LETTERED_CHOICES = "{{ ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'][:choices|length] }}"


def _metric(name: str) -> dict[str, object]:
    return {"metric": name, "aggregation": "mean", "higher_is_better": True}


def task_configs(context: ExportContext) -> dict[str, dict[str, object]]:
    task = task_identifier(context.name, context.version)
    data = str(context.final_dir / "exports" / FOLDER / DATA_FILE)
    common: dict[str, object] = {
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_target": "answer",
        "metadata": {"version": float(context.version)},
    }
    return {
        task: {
            "task": task,
            **common,
            "doc_to_text": "Question: {{question}}\nAnswer:",
            "doc_to_choice": "choices",
            "metric_list": [_metric("acc"), _metric("acc_norm")],
        },
        f"{task}_mmlu": {
            "task": f"{task}_mmlu",
            **common,
            "doc_to_text": LETTERED_TEXT,
            "doc_to_choice": LETTERED_CHOICES,
            "metric_list": [_metric("acc")],
        },
    }


def write(directory: Path, context: ExportContext) -> list[str]:
    """Writes into ``directory`` (the build's ``exports/lm_eval``); returns the task names."""
    write_rows(directory / DATA_FILE, context.items, context.version)
    configs = task_configs(context)
    for task, config in configs.items():
        (directory / f"{task}.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return list(configs)
