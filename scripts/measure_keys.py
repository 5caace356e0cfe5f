"""Key policies measured on the embedded local model: the agreeing-programs policy against the old one.

For each requirement (two computable ones that are not in examples/: decimals and metric units by default;
fractions became the README's example after it was measured here), runs
``benchmaker compare CONFIG --methods <variants>`` on the local model and prints, per variant: accepted
items and attempts, acceptance per attempt, calls and tokens per accepted item, keys by evidence level,
rejections by reason, and the keys an independent checker finds correct (fractions and decimals: the arithmetic
checker, which evaluates the question's expression with ``ast``; word problems: printed for a hand check).
Minutes of model time per attempt: run it by hand, under the local-model lock if others share the machine:

    flock /tmp/benchmaker-local-model.lock .venv/bin/python scripts/measure_keys.py --n 4

Figures go to docs/measurements.md; the raw comparison stays under outputs/comparisons/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LOCAL = {"generator": {"model": "local", "max_tokens": 600}, "solver": {"model": "local", "max_tokens": 400},
         "judge": {"model": "local", "max_tokens": 400}, "panel": ["local"]}  # fmt: skip
REQUIREMENTS = {
    "fractions": {
        "description": "Fraction arithmetic: add or subtract two fractions with denominators up to 12. The question "
        'is the expression alone, written out, for example "What is 3/4 + 5/6?". The answer is a simplified '
        "fraction or a whole number. Four options.",
        "checker": "arithmetic",
    },
    "decimals": {
        "description": "Decimal arithmetic: add, subtract or multiply two decimal numbers with one or two decimal "
        'places. The question is the expression alone, written out, for example "What is 3.75 + 12.4?". The answer '
        "is the exact decimal. Four options.",
        "checker": "arithmetic",
    },
    "units": {
        "description": "Metric unit conversion as a one-sentence word problem: convert one length, mass or volume "
        "between metric units (mm, cm, m, km, mg, g, kg, mL, L), for example a 2.5 km walk in metres. The answer "
        "is a number in the asked unit. Four options.",
        "checker": None,  # keys are checked by hand from the printed items
    },
    "percent": {
        "description": "Everyday percentages with money: the price after one or two successive discounts, or "
        "with a sales tax added, as a short word problem that states every price and rate. The answer is an "
        "amount in dollars to the cent. Four options.",
        "checker": None,  # keys are checked by hand from the printed items
    },
}


def config_for(name: str, n_items: int, seed: int, outputs: Path) -> dict:
    return {
        "requirement": {"description": REQUIREMENTS[name]["description"], "n_options": 4, "n_items": n_items},
        "models": LOCAL,
        "method": "benchmaker",
        "benchmaker": {
            "attribute_proposals": 1,
            "min_general_attributes": 4,
            "min_difficulty_attributes": 3,
            "candidates": 1,  # the key policies are what is measured; one candidate halves each attempt's cost
            "solver_samples": 3,
            "references": 4,
        },
        "generation": {"max_attempts_per_item": 3},
        "concurrency": 1,
        "seed": seed,
        "outputs_dir": str(outputs),
    }


def run_compare(config_path: Path, variants: str, checker: str | None) -> Path:
    command = [sys.executable, "-m", "benchmaker.cli", "compare", str(config_path), "--methods", variants, "--quiet"]
    if checker:
        command += ["--check", checker]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"compare failed ({result.returncode}): {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def figures(comparison_dir: Path) -> list[dict]:
    from benchmaker.store import RunStore

    comparison = json.loads((comparison_dir / "comparison.json").read_text())
    rows = []
    for row in comparison["rows"]:
        store = RunStore.open(Path(row["run_dir"]))
        rows.append(
            {
                "variant": row["label"],
                "accepted": row["accepted"],
                "attempts": row["attempts"],
                "acceptance": row["acceptance_rate"],
                "requests_per_item": row["per_item"]["requests"],
                "tokens_per_item": row["per_item"]["tokens"],
                "llm_seconds_per_item": row["per_item"]["llm_seconds"],
                "evidence": row.get("evidence"),
                "keys_by_evidence": row.get("key_check_by_evidence"),
                "key_check": row.get("key_check"),
                "rejected_key_check": row.get("rejected_key_check"),
                "rejections": row["rejections"],
                "items": [
                    {
                        "question": i.question,
                        "choices": i.choices,
                        "key": i.answer,
                        "evidence": i.metadata.get("key_evidence"),
                        "repaired": i.metadata.get("options_repaired"),
                    }
                    for i in store.items()
                ],  # fmt: skip
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requirements", default="decimals,units")
    parser.add_argument("--variants", default="benchmaker,benchmaker-value-first,benchmaker-single-program")
    parser.add_argument("--n", type=int, default=3, help="target items per variant")
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--outputs", type=Path, default=REPO / "outputs" / "measure-keys")
    args = parser.parse_args()
    args.outputs.mkdir(parents=True, exist_ok=True)
    report = {}
    for name in args.requirements.split(","):
        path = args.outputs / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config_for(name, args.n, args.seed, args.outputs)), encoding="utf-8")
        started = time.monotonic()
        directory = run_compare(path, args.variants, REQUIREMENTS[name]["checker"])
        report[name] = {"comparison": str(directory), "minutes": round((time.monotonic() - started) / 60, 1),
                        "rows": figures(directory)}  # fmt: skip
        print(f"\n## {name} ({report[name]['minutes']} min): {directory}")
        for row in report[name]["rows"]:
            items = row.pop("items")
            print(json.dumps(row, indent=1))
            for item in items:
                print(f"  [{item['evidence']}{', repaired' if item['repaired'] else ''}] {item['question']}")
                print(f"     {item['choices']} key {item['key']}")
    out = args.outputs / f"report-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"\n{out}")


if __name__ == "__main__":
    main()
