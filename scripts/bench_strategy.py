"""Times the difficulty-strategy bank on banks far beyond what a Cartesian product could hold.

Run: .venv/bin/python scripts/bench_strategy.py
"""

from __future__ import annotations

import random
import time
import tracemalloc

from benchmaker.methods.benchmaker.attributes import DifficultyAttribute, DifficultyLevel
from benchmaker.methods.benchmaker.strategy import StrategyBank


def bank_of(attributes: int, values: int) -> StrategyBank:
    coefficients = [1 + round(9 * i / max(1, values - 1)) for i in range(values)]
    return StrategyBank(
        [
            DifficultyAttribute(
                name=f"attribute {a}",
                levels=[DifficultyLevel(value=f"value {v}", coefficient=c) for v, c in enumerate(coefficients)],
            )
            for a in range(attributes)
        ]
    )


def main() -> None:
    print(f"{'attributes x values':>20} {'combinations':>14} {'build ms':>9} {'peak KiB':>9} {'samples/s':>10}")
    for attributes, values in [(6, 4), (10, 5), (20, 10), (40, 10)]:
        tracemalloc.start()
        started = time.perf_counter()
        bank = bank_of(attributes, values)
        build = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rng = random.Random(0)
        started = time.perf_counter()
        count = 2000
        for i in range(count):
            bank.sample(i % 10, rng)
        rate = count / (time.perf_counter() - started)
        shape = f"{attributes} x {values}"
        print(f"{shape:>20} {bank.total:>14.3g} {build * 1000:>9.1f} {peak / 1024:>9.0f} {rate:>10.0f}")


if __name__ == "__main__":
    main()
