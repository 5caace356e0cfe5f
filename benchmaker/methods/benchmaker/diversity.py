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
        if questions:
            self._add(questions, self.embedder.embed(questions))

    def _add(self, questions: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            self._texts.update(normalize_text(q) for q in questions)
            self._vectors.extend(vectors)

    def _similarity(self, questions: list[str], vectors: np.ndarray) -> list[float]:
        with self._lock:
            texts, stored = set(self._texts), list(self._vectors)
        scores = [float(row.max()) for row in vectors @ np.vstack(stored).T] if stored else [0.0] * len(questions)
        return [1.0 if normalize_text(q) in texts else s for q, s in zip(questions, scores, strict=True)]

    def similarity(self, questions: list[str]) -> list[float]:
        """Highest cosine to any accepted question, per question (1.0 for an exact duplicate)."""
        if not questions:
            return []
        return self._similarity(questions, self.embedder.embed(questions))

    def add_unless_duplicate(self, question: str) -> float | None:
        """Admit a question (embedded once): None when added, else its similarity to an accepted one."""
        vectors = self.embedder.embed([question])
        similarity = self._similarity([question], vectors)[0]
        if similarity >= self.threshold:
            return similarity
        self._add([question], vectors)
        return None

    def duplicates(self, questions: list[str]) -> list[float | None]:
        """The similarity of each question that is a duplicate, None for each that is not."""
        return [s if s >= self.threshold else None for s in self.similarity(questions)]
