"""Which prompt a chat request was rendered from, recognised by lines of static template text.

Over HTTP the simulated provider sees only messages; the scripted fake answers by prompt id. Each
template's static lines (long enough to be telling, and found in no other template) are its fingerprint;
the prompt is the one whose fingerprint lines the request contains most. Prompt files can change (new
versions) without the simulator being touched.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

from benchmaker.prompts import _ENV, PromptLibrary, default_library

MIN_LINE = 24


def _static_lines(body: str) -> set[str]:
    lines: set[str] = set()
    for _, token, value in _ENV.lex(body):
        if token != "data":
            continue
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= MIN_LINE and not line.startswith("["):
                lines.add(line)
    return lines


@cache
def fingerprints(library: PromptLibrary | None = None) -> dict[str, frozenset[str]]:
    library = library or default_library()
    lines = {prompt_id: _static_lines(template.body) for prompt_id, template in library.templates.items()}
    seen = Counter(line for found in lines.values() for line in found)
    return {prompt_id: frozenset(line for line in found if seen[line] == 1) for prompt_id, found in lines.items()}


def identify(text: str, library: PromptLibrary | None = None) -> str:
    """The prompt id ``text`` (the request's messages, joined) was rendered from, or "" if none fits.
    The most matched text wins, so a template whose line contains another's is told apart from it."""
    best, best_score = "", 0
    for prompt_id, lines in fingerprints(library).items():
        score = sum(len(line) for line in lines if line in text)
        if score > best_score:
            best, best_score = prompt_id, score
    return best
