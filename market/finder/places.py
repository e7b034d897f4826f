"""Places to measure distance from: every 市区町村 by code or by name (as written, in
kana or in English), for visitors and members alike. The gazetteer is the
`municipalities` table; it is small (1,741 rows), so each process keeps it in memory
(changes to the table take effect when the processes restart)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.catalog.models import Prefecture
from market.finder.models import Municipality
from search.analysis import fold_kana, nfkc

_SUFFIXES = ("市", "区", "町", "村")
_KANA_SUFFIXES = ("シ", "ク", "マチ", "チョウ", "ムラ", "ソン")
_EN_SUFFIXES = (" city", " ward", " town", " village")


@dataclass(frozen=True)
class Place:
    code: str
    prefecture_code: str
    name_ja: str
    name_en: str
    prefecture_ja: str
    prefecture_en: str
    lat: float
    lon: float
    keys: tuple[str, ...]  # folded names it answers to

    def label(self, locale: str) -> str:
        """八王子市 (東京都) / Hachioji City (Tokyo)."""
        if locale == "en":
            return f"{self.name_en} ({self.prefecture_en})"
        return f"{self.name_ja} ({self.prefecture_ja})"


def _fold(text: str) -> str:
    return fold_kana(nfkc(text)).replace(" ", "").replace("-", "")


def _keys(row: Municipality) -> tuple[str, ...]:
    keys = {_fold(row.name_ja), _fold(row.name_kana), _fold(row.name_en)}
    if row.name_ja.endswith(_SUFFIXES) and len(row.name_ja) > 2:
        keys.add(_fold(row.name_ja[:-1]))  # 八王子 for 八王子市
    kana = fold_kana(row.name_kana)
    for suffix in _KANA_SUFFIXES:
        if kana.endswith(suffix) and len(kana) > len(suffix) + 1:
            keys.add(kana[: -len(suffix)])  # ハチオウジ
            break
    english = row.name_en.lower()
    for suffix in _EN_SUFFIXES:
        if english.endswith(suffix):
            keys.add(_fold(english[: -len(suffix)]))  # hachioji
    return tuple(sorted(keys))


class Gazetteer:
    def __init__(self, places: list[Place]):
        self.places = places
        self.by_code = {p.code: p for p in places}
        self.by_code.update({p.code[:5]: p for p in places})  # codes without check digit
        self.by_key: dict[str, list[Place]] = {}
        for place in places:
            for key in place.keys:
                self.by_key.setdefault(key, []).append(place)

    def find(self, text: str) -> list[Place]:
        """Places a typed name or code means: one, several (府中市 is in Tokyo and in
        Hiroshima) or none. "府中市 (東京都)" and "府中市 東京都" choose one."""
        text = (text or "").strip()
        if text.isdigit():
            place = self.by_code.get(text)
            return [place] if place else []
        name, _, rest = text.replace("（", "(").partition("(")
        if not rest:
            name, _, rest = text.replace("\u3000", " ").partition(" ")
        found = self.by_key.get(_fold(name), [])
        rest = _fold(rest.rstrip(")） "))
        if rest and len(found) > 1:
            found = [
                p
                for p in found
                if rest in (_fold(p.prefecture_ja), _fold(p.prefecture_en))
                or _fold(p.prefecture_ja).startswith(rest)
            ]
        return found

    def starting(self, prefix: str, limit: int) -> list[Place]:
        """Places whose name, reading or English name starts with what was typed."""
        folded = _fold(prefix)
        if not folded:
            return []
        exact = self.by_key.get(folded, [])
        found = [
            p for p in self.places if p not in exact and any(k.startswith(folded) for k in p.keys)
        ]
        found.sort(key=lambda p: (len(p.name_ja), p.code))
        return (exact + found)[:limit]


_lock = threading.Lock()


def gazetteer(session: Session) -> Gazetteer:
    """The app's gazetteer, read once per process (kept on the app)."""
    found = current_app.extensions.get("meguri.gazetteer")
    if found is None:
        with _lock:
            prefectures = {p.code: p for p in session.scalars(select(Prefecture))}
            rows = session.scalars(select(Municipality).order_by(Municipality.code)).all()
            found = Gazetteer(
                [
                    Place(
                        code=r.code,
                        prefecture_code=r.prefecture_code,
                        name_ja=r.name_ja,
                        name_en=r.name_en,
                        prefecture_ja=prefectures[r.prefecture_code].name_ja,
                        prefecture_en=prefectures[r.prefecture_code].name_en,
                        lat=r.lat,
                        lon=r.lon,
                        keys=_keys(r),
                    )
                    for r in rows
                ]
            )
            current_app.extensions["meguri.gazetteer"] = found
    return found
