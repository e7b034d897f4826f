"""Typo tolerance for Latin words, as Meilisearch has it: a word of 5-8 letters may be
one edit off, of 9 or more two (an edit: a letter added, dropped, changed, or two
neighbours swapped). The embedded engine keeps a lexicon of the Latin words in its
listings with their one- and two-letter deletions (the symmetric-delete method): a word
nobody wrote is looked up by its own deletions and corrected to the nearest words."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

ONE_TYPO, TWO_TYPOS = 5, 9  # minimum word lengths, Meilisearch's defaults
MAX_CORRECTIONS = 4


def allowed_typos(word: str) -> int:
    return 2 if len(word) >= TWO_TYPOS else 1 if len(word) >= ONE_TYPO else 0


def deletions(word: str, depth: int) -> set[str]:
    """The word and every string made by dropping up to `depth` letters from it."""
    out = {word}
    for n in range(1, min(depth, len(word) - 1) + 1):
        for dropped in combinations(range(len(word)), n):
            out.add("".join(ch for i, ch in enumerate(word) if i not in dropped))
    return out


def lexicon_keys(word: str) -> set[str]:
    """Keys under which a lexicon word is stored: deep enough for the longest query
    that may reach it (a query of 9+ letters, two typos, may be two letters longer or
    shorter)."""
    return deletions(word, 2 if len(word) >= TWO_TYPOS - 2 else 1)


def distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps),
    or limit + 1 once it is certain to exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def corrections(word: str, candidates: Iterable[str]) -> list[str]:
    """The candidates within the word's allowed typos, nearest first."""
    limit = allowed_typos(word)
    scored = sorted(
        (d, c) for c in set(candidates) if c != word and (d := distance(word, c, limit)) <= limit
    )
    return [c for _, c in scored[:MAX_CORRECTIONS]]
