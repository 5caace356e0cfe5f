"""Step 8, difficulty diffusion: the hardest items so far become the references a new item must beat.

Weight of an accepted item: difficulty x 0.9^(4 x uses / k), so an item shown often fades and the
references rotate. The 2k heaviest form the pool; a seeded shuffle of the pool gives the k used.
Usage counts are derived from the run's persisted attempt plans, so they survive a resume.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

DECAY = 0.9


@dataclass(frozen=True)
class Candidate:
    item_id: str
    difficulty: float
    order: int
    """Acceptance order: breaks ties so that the ranking is deterministic."""


def reference_weight(difficulty: float, uses: int, k: int) -> float:
    return difficulty * DECAY ** (4 * uses / k)


def choose_references(candidates: list[Candidate], uses: Counter[str], k: int, rng: random.Random) -> list[str]:
    """Item ids of up to ``k`` references: a shuffled draw from the ``2k`` heaviest."""
    ranked = sorted(candidates, key=lambda c: (-reference_weight(c.difficulty, uses.get(c.item_id, 0), k), c.order))
    pool = [c.item_id for c in ranked[: 2 * k]]
    rng.shuffle(pool)
    return pool[:k]
