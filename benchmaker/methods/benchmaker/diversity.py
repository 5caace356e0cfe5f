"""Step 5, in-batch diversity boosting, and the near-duplicate filter.

Of an attempt's candidates, keep the one that adds the most word-frequency entropy to the
references (the research code's rule: the Shannon entropy, in bits, of the word distribution of
the references joined with the candidate). Candidates that duplicate an accepted item, exactly or
by embedding cosine above a threshold, are dropped first.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import numpy as np

from benchmaker.embeddings import Embedder
from benchmaker.items import normalize_text
from benchmaker.scoring.metrics import tokenize


def word_entropy(tokens: list[str]) -> float:
    counts = Counter(tokens)
    total = sum(counts.values())
    if not total:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def entropy_gains(candidates: list[str], references: list[str]) -> list[float]:
    """Entropy of references + candidate, per candidate (higher = more new vocabulary)."""
    base = [token for text in references for token in tokenize(text)]
    return [word_entropy(base + tokenize(candidate)) for candidate in candidates]


def most_diverse(candidates: list[str], references: list[str]) -> tuple[int, list[float]]:
    """Index of the candidate to keep (the first on ties) and every candidate's score."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    scores = entropy_gains(candidates, references)
    return max(range(len(scores)), key=lambda i: (scores[i], -i)), scores


class NearDuplicateIndex:
    """Questions accepted so far, as normalised text and unit embeddings. Thread-safe."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._texts: set[str] = set()
        self._vectors: list[np.ndarray] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, questions: list[str]) -> None:
        if not questions:
            return
        vectors = self.embedder.embed(questions)
        with self._lock:
            self._texts.update(normalize_text(q) for q in questions)
            self._vectors.extend(vectors)

    def similarity(self, questions: list[str]) -> list[float]:
        """Highest cosine to any accepted question, per question (1.0 for an exact duplicate)."""
        with self._lock:
            texts, stored = set(self._texts), list(self._vectors)
        if not questions:
            return []
        scores = [0.0] * len(questions)
        if stored:
            sims = self.embedder.embed(questions) @ np.vstack(stored).T
            scores = [float(row.max()) for row in sims]
        return [1.0 if normalize_text(q) in texts else s for q, s in zip(questions, scores, strict=True)]

    def duplicates(self, questions: list[str]) -> list[float | None]:
        """The similarity of each question that is a duplicate, None for each that is not."""
        return [s if s >= self.threshold else None for s in self.similarity(questions)]
