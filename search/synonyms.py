"""Synonyms: words that people in the trade use for the same thing (残土 and 発生土, ガラ and
コンクリート塊). The app keeps them as editable data and gives them to the index; the
embedded engine expands a query word into its synonyms, Meilisearch gets them as its
`synonyms` setting. Kana typed for a synonym finds it too (ざんど → 残土 → 発生土)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .analysis import fold_kana, is_kana, nfkc, read
from .text import runs

MAX_ALTERNATIVES = 8


@dataclass(frozen=True)
class SynonymGroup:
    """Terms that find each other. One-way (mutual=False): the first term also finds
    the others, but they do not find it (ガラ finds コンクリート塊; コンクリート塊 does not
    find every ガラ, which may be brick or asphalt)."""

    terms: tuple[str, ...]
    mutual: bool = True


def _key(term: str) -> str:
    return " ".join(fold_kana(nfkc(term)).split())


def _reading_key(term: str) -> str | None:
    """The reading of a term written only in CJK characters (so that kana finds it)."""
    pieces = runs(nfkc(term))
    if len(pieces) != 1 or not pieces[0][0]:
        return None
    return read(pieces[0][1]).text or None


class Synonyms:
    def __init__(self, groups: Iterable[SynonymGroup] = ()) -> None:
        self.groups = tuple(
            SynonymGroup(tuple(t.strip() for t in g.terms if t.strip()), g.mutual) for g in groups
        )
        self._by_key: dict[str, list[str]] = {}
        self._by_reading: dict[str, list[str]] = {}
        for group in self.groups:
            for term in group.terms if group.mutual else group.terms[:1]:
                others = [t for t in group.terms if _key(t) != _key(term)]
                self._by_key.setdefault(_key(term), []).extend(others)
                if (reading := _reading_key(term)) is not None:
                    self._by_reading.setdefault(reading, []).extend([term, *others])
        self._expanded: dict[tuple[str, bool], list[str]] = {}  # expand()'s answers
        # longest first, for the search of a synonym inside a longer run
        self._inner = sorted(
            (k for k in self._by_key if len(k) >= 2 and " " not in k and runs(k) == [(True, k)]),
            key=len,
            reverse=True,
        )

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Synonyms) and self.groups == other.groups

    def __hash__(self) -> int:
        return hash(self.groups)

    def expand(self, word: str, *, kana: bool) -> list[str]:
        """Alternatives for one folded query word (a CJK run or a Latin word). Kept per
        word: looking for a synonym inside a run tries every key (~2 ms a word)."""
        known = self._expanded.get((word, kana))
        if known is None:
            known = self._expand(word, kana)
            if len(self._expanded) < 100_000:
                self._expanded[(word, kana)] = known
        return list(known)

    def _expand(self, word: str, kana: bool) -> list[str]:
        found = list(self._by_key.get(word, ()))
        if kana:
            found += self._by_reading.get(word, ())
        if not found and runs(word) == [(True, word)]:
            # 残土処分 → 発生土処分: a synonym inside a longer run
            for key in self._inner:
                if key in word:
                    found = [
                        word.replace(key, _key(alt))
                        for alt in self._by_key[key]
                        if runs(nfkc(alt)) == [(True, nfkc(alt))]
                    ]
                    break
        out = [alt for alt in dict.fromkeys(found) if _key(alt) != word]
        return out[:MAX_ALTERNATIVES]

    def to_json(self) -> str:
        return json.dumps(
            [{"terms": list(g.terms), "mutual": g.mutual} for g in self.groups], ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str | None) -> Synonyms:
        if not text:
            return cls()
        return cls(
            SynonymGroup(tuple(g["terms"]), bool(g.get("mutual", True))) for g in json.loads(text)
        )

    def meilisearch(self) -> dict[str, list[str]]:
        """Meilisearch's `synonyms` setting: each term (NFKC, as the documents' search
        fields) → the terms it finds; readings of kanji terms as extra keys, since a kana
        query reaches Meilisearch as katakana."""
        setting: dict[str, list[str]] = {}
        for group in self.groups:
            for term in group.terms if group.mutual else group.terms[:1]:
                others = [nfkc(t) for t in group.terms if t != term]
                setting.setdefault(nfkc(term), []).extend(others)
                reading = _reading_key(term)
                if reading is not None and not is_kana(nfkc(term)):
                    setting.setdefault(reading, []).extend([nfkc(term), *others])
        return {key: list(dict.fromkeys(values)) for key, values in setting.items()}
