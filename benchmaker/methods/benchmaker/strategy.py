"""Step 3, difficulty strategy guidance: combinations of difficulty-attribute values, harder as the run goes on.

The research code materialises the Cartesian product of all values (10 attributes x 5 values is
~9.8M dicts) to sort it by score. Scores are sums of small integer coefficients, so the number of
combinations at each score is a polynomial product; from those counts we can draw a uniform
combination of any rank quantile exactly, in memory linear in attributes x score range.

Combinations are ranked by score = 1 + sum of the chosen values' coefficients (additive, as the
reference implementation does; the paper's prompt calls them multipliers). The easier half is
discarded; the harder half is cut into ``bins`` equal bins and item ``i`` of ``N`` draws from bin
``floor(bins * i / N)``. Ties inside a score are ordered at random, which is what a uniform draw
within the score achieves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from benchmaker.methods.benchmaker.attributes import DifficultyAttribute

BINS = 10


@dataclass(frozen=True)
class Strategy:
    values: dict[str, str]
    """Attribute name -> the chosen value."""
    score: int
    bin: int


class StrategyBank:
    def __init__(self, attributes: list[DifficultyAttribute], bins: int = BINS) -> None:
        if not attributes:
            raise ValueError("a strategy bank needs at least one difficulty attribute")
        self.attributes = attributes
        self.bins = bins
        self.coefficients = [[level.coefficient for level in a.levels] for a in attributes]
        # ways[j][t]: how many combinations of attributes j.. have coefficient sum t.
        self.ways: list[dict[int, int]] = [{} for _ in range(len(attributes) + 1)]
        self.ways[-1] = {0: 1}
        for j in range(len(attributes) - 1, -1, -1):
            table: dict[int, int] = {}
            for coefficient in self.coefficients[j]:
                for total, count in self.ways[j + 1].items():
                    table[total + coefficient] = table.get(total + coefficient, 0) + count
            self.ways[j] = table
        self.total = sum(self.ways[0].values())

    @staticmethod
    def bin_for(slot: int, n_items: int, bins: int = BINS) -> int:
        """Item ``slot`` of ``n_items`` uses bin floor(bins * slot / n_items)."""
        return min(bins - 1, max(0, bins * slot // max(1, n_items)))

    def rank_range(self, bin_index: int) -> tuple[int, int]:
        """Ranks (0 = easiest combination) covered by a bin of the harder half."""
        if not 0 <= bin_index < self.bins:
            raise ValueError(f"bin {bin_index} is outside 0..{self.bins - 1}")
        discarded = self.total // 2
        upper = self.total - discarded
        low = discarded + bin_index * upper // self.bins
        high = discarded + (bin_index + 1) * upper // self.bins
        return low, max(high, low + 1)

    def score_at_rank(self, rank: int) -> int:
        """The coefficient sum of the combination at ``rank`` in ascending score order."""
        seen = 0
        for total in sorted(self.ways[0]):
            seen += self.ways[0][total]
            if rank < seen:
                return total
        raise ValueError(f"rank {rank} is outside 0..{self.total - 1}")

    def sample(self, bin_index: int, rng: random.Random) -> Strategy:
        low, high = self.rank_range(bin_index)
        remaining = self.score_at_rank(rng.randrange(low, high))
        total = remaining
        values: dict[str, str] = {}
        for j, attribute in enumerate(self.attributes):
            # Choose this attribute's level with probability proportional to the completions left.
            pick = rng.randrange(self.ways[j][remaining])
            for level, coefficient in zip(attribute.levels, self.coefficients[j], strict=True):
                count = self.ways[j + 1].get(remaining - coefficient, 0)
                if pick < count:
                    values[attribute.name] = level.value
                    remaining -= coefficient
                    break
                pick -= count
        return Strategy(values=values, score=1 + total, bin=bin_index)
