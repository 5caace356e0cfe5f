"""How often the judge's draft check fires, on hand-labelled drafts, with a given judge model.

Each case is a draft whose right verdict is known (written by hand: one thing asked or two, choices that
answer it or not, a constraint kept or broken). The script runs the check exactly as the pipeline does
(``benchmaker.methods.benchmaker.draft_checks.check_draft``: three readings, a strict majority) and prints,
per case, the verdict it should give and the one it gave; then the false-positive and false-negative
counts. The local model's server is serial: run it by hand, under the local-model lock if others share it:

    flock /tmp/benchmaker-local-model.lock .venv/bin/python scripts/probe_draft_check.py --model local
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmaker.config import Budget, LLMSettings, ModelSpec
from benchmaker.items import MCQ
from benchmaker.llm.factory import build_role_model
from benchmaker.llm.meter import Meter
from benchmaker.methods.benchmaker.draft_checks import check_draft
from benchmaker.prompts import PromptLibrary

FRACTIONS = (
    "Fraction arithmetic: add or subtract two fractions with denominators up to 12. The question is the expression "
    'alone, written out, for example "What is 3/4 + 5/6?". The answer is a simplified fraction or whole number.'
)
ALONE = "The question is the expression alone, written out"
STOICHIOMETRY = "High-school stoichiometry: mole ratios from balanced equations, molar mass, limiting reagents."
CASES = [  # (requirement, constraints, question, choices, the right verdict: "" passes)
    (FRACTIONS, [ALONE], "What is 7/8 - 3/4?", ["1/8", "2/4", "3/8", "5/16"], ""),
    (FRACTIONS, [ALONE], "What is 3/4 + 5/6?", ["1/6", "3/4", "17/24", "19/12"], ""),
    (FRACTIONS, [ALONE], "What is the result of subtracting 1/5 from 7/8?", ["19/40", "28/40", "27/40", "26/40"], ""),
    (FRACTIONS, [ALONE], "What is 2/3 + 1/4?", ["11/12", "3/7", "2/12", "1"], ""),
    (
        FRACTIONS,
        [ALONE],
        "A baker uses 3/4 cup of flour for a cake and 5/6 cup for bread. How much flour does she use in total?",
        ["19/12", "8/10", "1/2", "2"],
        "breaks_constraint",
    ),  # fmt: skip
    (FRACTIONS, [ALONE], "What is 2/3 + 1/4?", ["red", "blue", "green", "yellow"], "choices_do_not_answer"),
    (
        STOICHIOMETRY,
        [],
        "For the reaction N2 + 3H2 -> 2NH3, you have 6 moles of N2. How many moles of H2 are needed "
        "to react completely with it?",
        ["18 mol", "9 mol", "6 mol", "2 mol"],
        "",
    ),  # fmt: skip
    (
        STOICHIOMETRY,
        [],
        "What is the molar mass of water (H2O)?",
        ["18.02 g/mol", "16.00 g/mol", "2.02 g/mol", "34.02 g/mol"],
        "",
    ),  # fmt: skip
    (
        STOICHIOMETRY,
        [],
        "For the reaction N2 + 3H2 -> 2NH3, you have 6 moles of N2 and 12 moles of H2. Determine how "
        "many moles of NH3 form, and which reagent is the limiting reagent.",
        ["8 mol", "12 mol", "4 mol", "6 mol"],
        "asks_several_things",
    ),  # fmt: skip
    (STOICHIOMETRY, [], "How many grams are in 2 moles of NaCl?", ["Na", "Cl", "NaCl", "H2O"], "choices_do_not_answer"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local")
    parser.add_argument("--votes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.model == "local":
            from benchmaker.local.server import local_model

            context = local_model()
        else:
            import contextlib

            context = contextlib.nullcontext(None)
        with context as endpoint:
            spec = ModelSpec(model=args.model, max_tokens=200)
            judge = build_role_model(
                "judge", spec, settings=LLMSettings(), meter=Meter(Budget()), sink=None, cache_dir=Path(scratch),
                local_api_base=endpoint.api_base if endpoint is not None else None,
            )  # fmt: skip
            prompts = PromptLibrary()
            wrong = {"false_positive": 0, "false_negative": 0, "other": 0}
            started = time.monotonic()
            for number, (requirement, constraints, question, choices, expected) in enumerate(CASES):
                check = check_draft(
                    judge, prompts, MCQ(question=question, choices=tuple(choices), answer_index=0),
                    requirement=requirement, constraints=constraints, single_question=True, check_constraints=True,
                    votes=args.votes, seed=7 + number, sample_key=f"probe={number}", attempt=number,
                )  # fmt: skip
                got = check.reason
                if got != expected:
                    wrong["false_positive" if not expected else "false_negative" if not got else "other"] += 1
                readings = [r["asked"] for r in (check.verdict or {}).get("readings", [])]
                verdict = "ok " if got == expected else "BAD"
                print(f"{verdict} expected {expected or 'pass'!r:24} got {got or 'pass'!r:24} {question[:60]!r}")
                print(f"    readings: {readings}")
            passing = sum(1 for *_, e in CASES if not e)
            print(f"\n{len(CASES)} cases ({passing} that should pass) in {time.monotonic() - started:.0f} s; "
                  f"false positives {wrong['false_positive']}/{passing}, false negatives "
                  f"{wrong['false_negative']}/{len(CASES) - passing}, wrong reason {wrong['other']}")  # fmt: skip


if __name__ == "__main__":
    main()
