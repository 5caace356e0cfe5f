"""Word-level text comparison for the memorisation check: prefixes cut on word boundaries, ROUGE-L, exact match.

Words are the tokens of :func:`benchmaker.scoring.metrics.tokenize` after NFKC normalisation: lower-cased
runs of letters and digits, punctuation dropped, and every Han, kana or Hangul character one word. The
``rouge-score`` package computes ROUGE-L; its own tokenizer keeps only ``[a-z0-9]`` and would turn a
Chinese text into no tokens at all, so it is handed this one instead.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from functools import cache

import absl.logging
from rouge_score import rouge_scorer

from benchmaker.scoring.metrics import TOKEN_PATTERN

# rouge-score imports absl.logging, whose handler keeps whatever ``sys.stderr`` was at import time and closes it
# when anything reconfigures logging (Prefect does, at each flow) unless it is ``sys.stderr`` at that moment.
# In a host that swaps ``sys.stderr`` (a notebook, pytest's capture, the CLI's own log redirection) that closed
# the host's stream. Pointing it at the interpreter's own stderr, which it never closes, keeps it harmless.
absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (CJK characters one word each)."""
    return TOKEN_PATTERN.findall(_normal(text))


def _word_ends(text: str) -> list[int]:
    """Character offsets in ``text`` just after each word (the pattern is case-blind, so no lowering)."""
    return [m.end() for m in TOKEN_PATTERN.finditer(text)]


@dataclass(frozen=True)
class Split:
    """A question cut after ``prefix_words`` of its ``total_words`` words."""

    prefix: str
    remainder: str
    prefix_words: int
    total_words: int

    @property
    def remainder_words(self) -> int:
        return len(words(self.remainder))


def split_at_fraction(text: str, fraction: float) -> Split | None:
    """The first ``round(fraction * n)`` words of ``text`` (at least 1, at most n - 1) and the rest.

    The prefix ends right after a word (no trailing space, so a completion starts with the next word's
    own space); the remainder keeps its punctuation and spacing. None when ``text`` has fewer than 2 words.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must lie strictly between 0 and 1")
    ends = _word_ends(text)
    n = len(ends)
    if n < 2:
        return None
    m = min(n - 1, max(1, round(fraction * n)))
    cut = ends[m - 1]
    return Split(prefix=text[:cut], remainder=text[cut:], prefix_words=m, total_words=n)


def continuation_words(reply: str, prefix: str, limit: int) -> list[str]:
    """The first ``limit`` words a model wrote after the prefix.

    A reply that restates the prefix first (chat models often do) has that restatement dropped.
    """
    got, before = words(reply), words(prefix)
    if before and got[: len(before)] == before:
        got = got[len(before) :]
    return got[:limit]


class _WordTokenizer:
    """The tokenizer object ``rouge-score`` accepts: our CJK-aware words."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


@cache
def _scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_WordTokenizer())


def rouge_l(reference: list[str], candidate: list[str]) -> float:
    """ROUGE-L F1 (longest common subsequence) of two word lists, by ``rouge-score``; 0 when either is empty."""
    if not reference or not candidate:
        return 0.0
    # Words carry no spaces, so joining with spaces and re-tokenising gives the same lists back.
    return float(_scorer().score(" ".join(reference), " ".join(candidate))["rougeL"].fmeasure)


def exact_match(reference: list[str], candidate: list[str]) -> bool:
    """The candidate's words are the reference's, in order (case, width and punctuation ignored)."""
    return bool(reference) and candidate == reference
