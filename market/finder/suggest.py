"""Suggestions as people type (from two characters): words of the trade (categories,
materials, grades, soil classes, kinds and synonyms, found by their kanji, their
reading or their English name), places (every 市区町村) and listing titles, each in
the user's language."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

import search
from market.catalog.kinds import SPECS
from market.catalog.models import Grade, Material, MaterialCategory, ReuseCategory, SoilClass
from market.finder import places
from market.finder.index import get_index
from market.finder.models import SynonymGroup
from search.analysis import fold_kana, nfkc, read
from search.text import runs

MIN_CHARS = 2
MAX_LIMIT = 20
VOCABULARY_TTL_S = 300.0


@dataclass(frozen=True)
class Word:
    ja: str
    en: str
    keys: tuple[str, ...]


def _fold(text: str) -> str:
    return fold_kana(nfkc(text)).replace(" ", "")


def _keys(*names: str) -> tuple[str, ...]:
    keys = set()
    for name in names:
        if not name:
            continue
        keys.add(_fold(name))
        pieces = runs(nfkc(name))
        reading = "".join(read(run).text if cjk else run for cjk, run in pieces)
        keys.add(reading.replace(" ", ""))
    return tuple(k for k in keys if k)


def _vocabulary(session: Session) -> list[Word]:
    words: dict[str, Word] = {}

    def add(ja: str, en: str) -> None:
        if ja and ja not in words:
            words[ja] = Word(ja, en or ja, _keys(ja, en))

    for model in (ReuseCategory, MaterialCategory, Material, SoilClass):
        for row in session.scalars(select(model)):
            add(row.name_ja, row.name_en)
    for row in session.scalars(select(Grade)):
        add(row.code, row.code)
    labels: dict[str, list[str]] = {}
    for locale in ("ja", "en"):
        with force_locale(locale):
            for kind, spec in SPECS.items():
                labels.setdefault(kind.value, []).append(str(spec.label))
    for ja, en in labels.values():
        add(ja, en)
    for group in session.scalars(select(SynonymGroup)):
        latin = [t for t in group.terms if t.isascii()]
        for term in group.terms:
            add(term, term if term.isascii() else (latin[0] if latin else term))
    return list(words.values())


_lock = threading.Lock()


def vocabulary(session: Session) -> list[Word]:
    """The app's vocabulary, read again after VOCABULARY_TTL_S (kept on the app)."""
    cached = current_app.extensions.get("meguri.suggest_vocabulary")
    if cached is None or time.monotonic() - cached[0] > VOCABULARY_TTL_S:
        with _lock:
            cached = (time.monotonic(), _vocabulary(session))
            current_app.extensions["meguri.suggest_vocabulary"] = cached
    return cached[1]


def _words(session: Session, typed: str, locale: str, limit: int) -> list[dict]:
    folded = _fold(typed)
    scored = []
    for word in vocabulary(session):
        if any(key.startswith(folded) for key in word.keys):
            exact = folded in word.keys
            scored.append((not exact, len(word.ja), word.ja, word))
    scored.sort(key=lambda item: item[:3])
    out = []
    for *_, word in scored[:limit]:
        text = word.en if locale == "en" else word.ja
        out.append({"type": "word", "text": text, "value": text})
    return out


def suggestions(session: Session, typed: str, locale: str, limit: int = 8) -> list[dict]:
    """Words first, then places, then listings whose title matches what was typed."""
    typed = (typed or "").strip()[:100]
    if len(typed) < MIN_CHARS:
        return []
    out = _words(session, typed, locale, limit)
    seen = {s["text"] for s in out}
    for place in places.gazetteer(session).starting(typed, limit):
        out.append({"type": "place", "text": place.label(locale), "value": place.code})
    results = get_index().search(search.SearchQuery(text=typed, per_page=limit))
    for hit in results.hits:
        if hit.document.title not in seen:
            seen.add(hit.document.title)
            out.append(
                {
                    "type": "listing",
                    "text": hit.document.title,
                    "value": hit.document.title,
                    "url": url_for("catalog.detail", listing_id=hit.id),
                }
            )
    # a few of each kind rather than all of one
    by_type: dict[str, list[dict]] = {}
    for item in out:
        by_type.setdefault(item["type"], []).append(item)
    share = max(2, limit // 3)
    mixed = [i for kind in ("word", "place", "listing") for i in by_type.get(kind, [])[:share]]
    rest = [i for i in out if i not in mixed]
    return (mixed + rest)[:limit]
