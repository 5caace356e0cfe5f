"""Dedup of release candidates against earlier versions, public sets, and each other.

Three rules, checked in this order; the first that matches drops the candidate, with the reason
and the item it collided with:

* ``exact_duplicate``: the same normalised question (case, width and whitespace do not count),
  whatever its options: a question published with other distractors has leaked all the same;
* ``ngram_overlap`` (public sets only): the candidate shares a word n-gram (13 by default) with a
  public item, the decontamination rule of lm-evaluation-harness: lower-cased, punctuation deleted,
  split on whitespace; texts shorter than n words have no n-gram and cannot match this way;
* ``near_duplicate``: the embedding cosine of the two items (question and options) is at or above
  the threshold.

Earlier versions and public sets are checked for every candidate; accepted candidates of the same
release are checked for the ones after them (exact and near duplicates), so a release never holds
the same item twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from benchmaker.embeddings import Embedder
from benchmaker.items import normalize_text
from benchmaker.releases.models import Collision, Dropped

_PUNCTUATION = re.compile(r"[^\w\s]|_")
_CHUNK = 512


def exact_key(question: str) -> str:
    """The normalised question: the same question with other options is still the same question."""
    return normalize_text(question)


def ngram_words(text: str) -> list[str]:
    """Words as the n-gram rule sees them: case-folded, punctuation deleted, split on whitespace."""
    return _PUNCTUATION.sub("", text.casefold()).split()


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = ngram_words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def item_text(question: str, choices: Sequence[str]) -> str:
    """What is embedded and n-grammed: the question, then one option per line."""
    return "\n".join([question, *choices])


@dataclass(frozen=True)
class Entry:
    """An item on either side of a check."""

    id: str
    question: str
    choices: tuple[str, ...]
    origin: str = "candidates"
    """v<N>, against:<name>, or candidates."""
    run_id: str = ""

    @property
    def text(self) -> str:
        return item_text(self.question, self.choices)

    def collision(self) -> Collision:
        return Collision(origin=self.origin, id=self.id, question=self.question)


Group = Literal["versions", "public"]


class Deduplicator:
    """References (earlier versions and public sets) are embedded once; candidates are checked in order."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float,
        ngram: int,
        versions: Sequence[Entry] = (),
        public: Sequence[Entry] = (),
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.ngram = ngram
        self.refs: list[Entry] = [*versions, *public]
        self.ref_group = np.array(["versions"] * len(versions) + ["public"] * len(public), dtype=object)
        self.exact: dict[str, list[int]] = {}
        for index, ref in enumerate(self.refs):
            self.exact.setdefault(exact_key(ref.question), []).append(index)
        self.ngrams: dict[tuple[str, ...], int] = {}
        for index, ref in enumerate(self.refs):
            if self.ref_group[index] == "public":
                for gram in word_ngrams(ref.text, ngram):
                    self.ngrams.setdefault(gram, index)
        self.ref_vectors = self._embed([ref.text for ref in self.refs])

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1))
        return np.asarray(self.embedder.embed(texts), dtype=np.float64)

    def _best_refs(self, vectors: np.ndarray, groups: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each candidate, the most similar reference of the given groups and its cosine."""
        best_index = np.full(len(vectors), -1, dtype=int)
        best_score = np.full(len(vectors), -np.inf)
        mask = np.isin(self.ref_group, list(groups)) if len(self.refs) else np.zeros(0, dtype=bool)
        if not mask.any() or len(vectors) == 0:
            return best_index, best_score
        allowed = np.flatnonzero(mask)
        refs = self.ref_vectors[allowed]
        for start in range(0, len(vectors), _CHUNK):
            sims = vectors[start : start + _CHUNK] @ refs.T
            arg = sims.argmax(axis=1)
            best_index[start : start + _CHUNK] = allowed[arg]
            best_score[start : start + _CHUNK] = sims[np.arange(len(arg)), arg]
        return best_index, best_score

    def check(self, candidates: Sequence[Entry], *, against_versions: bool = True) -> tuple[list[Entry], list[Dropped]]:
        """Split candidates into kept (in order) and dropped. ``against_versions=False`` checks only the
        public sets (anchors repeat an earlier version by design) and not the other candidates."""
        groups = {"versions", "public"} if against_versions else {"public"}
        vectors = self._embed([c.text for c in candidates])
        best_index, best_score = self._best_refs(vectors, groups)
        kept: list[Entry] = []
        kept_vectors: list[np.ndarray] = []
        kept_exact: dict[str, Entry] = {}
        dropped: list[Dropped] = []

        def drop(candidate: Entry, reason: str, other: Entry, score: float | None = None, detail: str = "") -> None:
            dropped.append(
                Dropped(
                    item_id=candidate.id,
                    question=candidate.question,
                    run_id=candidate.run_id,
                    reason=reason,  # type: ignore[arg-type]
                    collided_with=other.collision(),
                    score=None if score is None else round(float(score), 4),
                    detail=detail,
                )
            )

        for position, candidate in enumerate(candidates):
            key = exact_key(candidate.question)
            exact_refs = [i for i in self.exact.get(key, []) if self.ref_group[i] in groups]
            if exact_refs:
                drop(candidate, "exact_duplicate", self.refs[exact_refs[0]])
                continue
            if against_versions and key in kept_exact:
                drop(candidate, "exact_duplicate", kept_exact[key])
                continue
            gram = next((g for g in sorted(word_ngrams(candidate.text, self.ngram)) if g in self.ngrams), None)
            if gram is not None:
                drop(candidate, "ngram_overlap", self.refs[self.ngrams[gram]], detail=" ".join(gram))
                continue
            if best_index[position] >= 0 and best_score[position] >= self.threshold:
                drop(candidate, "near_duplicate", self.refs[best_index[position]], best_score[position])
                continue
            if against_versions and kept_vectors:
                sims = np.vstack(kept_vectors) @ vectors[position]
                closest = int(sims.argmax())
                if sims[closest] >= self.threshold:
                    drop(candidate, "near_duplicate", kept[closest], sims[closest])
                    continue
            kept.append(candidate)
            kept_vectors.append(vectors[position])
            kept_exact[key] = candidate
        return kept, dropped
