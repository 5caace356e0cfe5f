"""Adaptive self test-taking: ask for solver answers in rounds and stop once more cannot matter.

What self test-taking decides from the answers: whether none parsed (the draft is rejected), whether they
conflict with the key (the judge is called), whether their majority is the key (a program value the
generator does not confirm needs it), and the difficulty label 1 + 10 x error rate over parsed answers,
whose bin (easy / medium / hard by default) is what a user reads. After each round the answers still to
come are predicted from those so far: a Dirichlet-multinomial over the options and "unparsable", with a
Jeffreys prior (half a pseudo-answer per category). Sampling stops when the outcome now (those four things,
the label by its bin) equals the outcome after all ``solver_samples`` answers with probability at least
``confidence``. The probability is a seeded Monte Carlo estimate, so the same answers always give the same
decision. The label recorded is the one the answers taken give, under the same definition.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass

from benchmaker.config import SolverSampling
from benchmaker.methods.benchmaker.self_test import SelfTest

DRAWS = 2000
"""Monte Carlo draws of the answers still to come."""
PRIOR = 0.5
"""Pseudo-answers per category of the Dirichlet prior (Jeffreys' prior for a multinomial)."""


@dataclass(frozen=True)
class Outcome:
    unparsable: bool
    conflict: bool
    majority_is_key: bool
    label_bin: int | None


def label_bin(label: float | None, edges: tuple[float, ...]) -> int | None:
    """0 for labels up to the first edge, 1 up to the second, ...; None when there is no label."""
    return None if label is None else bisect.bisect_left(edges, label)


def outcome(test: SelfTest, key: int, trigger: str, edges: tuple[float, ...]) -> Outcome:
    return Outcome(
        unparsable=test.parsed == 0,
        conflict=test.conflicts_with(key, trigger),
        majority_is_key=test.majority() == key,
        label_bin=label_bin(test.difficulty(key), edges),
    )


def schedule(settings: SolverSampling, total: int) -> list[int]:
    """The round sizes: ``first``, then ``step`` at a time, summing to ``total``."""
    sizes, taken = [], 0
    while taken < total:
        size = min(settings.first if not sizes else settings.step, total - taken)
        sizes.append(size)
        taken += size
    return sizes


def settled(
    votes: list[int | None], key: int, n_options: int, remaining: int, trigger: str, settings: SolverSampling
) -> bool:
    """Whether the ``remaining`` answers would leave the outcome as it is with probability >= confidence."""
    if remaining <= 0:
        return True
    now = outcome(SelfTest(votes=list(votes), reasonings=[""] * len(votes)), key, trigger, settings.bin_edges)
    categories: list[int | None] = [*range(n_options), None]
    alpha = [PRIOR + sum(v == c for v in votes) for c in categories]
    rng = random.Random(hashlib.sha256(repr((votes, key, remaining)).encode()).digest())
    same, needed = 0, settings.confidence * DRAWS
    for draw in range(DRAWS):
        gammas = [rng.gammavariate(a, 1.0) for a in alpha]
        rest = rng.choices(categories, weights=gammas, k=remaining)
        full = list(votes) + rest
        if outcome(SelfTest(votes=full, reasonings=[""] * len(full)), key, trigger, settings.bin_edges) == now:
            same += 1
        if same >= needed:
            return True
        if same + (DRAWS - draw - 1) < needed:  # cannot reach it any more
            return False
    return False
