"""The embedded engine's columns in memory: every indexed listing's facets, price,
window, position, creation time and title, as numpy arrays (and the titles as bytes),
so that filters, facet counts and the page's order cost vector operations instead of one
SQL row per hit. The inverted index (FTS5 / GIN) still finds the text's candidates; this
decides everything else.

Each process keeps its own copy, loaded from the key rows on its first search (about
5 s and ~300 MB for a million listings) and brought up to date before every search from
the index's change log (see EmbeddedIndex._log_changes): writes in any process are
seen by the next search in every other. A rebuild changes the index's build token,
which makes every process load the new tables."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .documents import FACETS, SearchQuery
from .geo import chord_threshold, unit_vector
from .text import READING, TEXT, QueryTerm

# Key-row columns the store reads, in this order.
COLUMNS = (
    "id",
    "title_norm",
    "title_reading",
    *FACETS,
    "price_per_unit",
    "window_start",
    "window_end",
    "cx",
    "cy",
    "cz",
    "created_ts",
)
_FACET_AT = {facet: 3 + n for n, facet in enumerate(FACETS)}
_PRICE, _START, _END, _CX, _CY, _CZ, _CREATED = range(3 + len(FACETS), len(COLUMNS))
_NO_START, _NO_END = -1, 99_999_999  # an open window side: always inside
LOAD_BATCH = 50_000
FIRST_CHUNK = 2048  # candidates ranked before deciding whether the rest can matter


def _day(value: str | None, missing: int) -> int:
    """'2025-03-01' -> 20250301 (the order of the ISO text the SQL compared)."""
    if not value:
        return missing
    return int(value[:4]) * 10000 + int(value[5:7]) * 100 + int(value[8:10])


@dataclass
class Ranked:
    total: int
    page: list[int]  # listing ids of the page, in order
    facets: dict[str, dict[str, int]]


class Columns:
    """One generation (build) of an index's rows in memory. Not thread-safe on its own:
    the owner holds `lock` around sync and search."""

    def __init__(self, build: str, seq: int) -> None:
        self.build = build
        self.seq = seq
        self.lock = threading.Lock()
        self.n = 0
        self._cap = 0
        self.ids = np.zeros(0, np.int64)
        self.alive = np.zeros(0, bool)
        self.codes = {f: np.zeros(0, np.int32) for f in FACETS}
        self.vocab: dict[str, list[str | None]] = {f: [None] for f in FACETS}
        self._code_of: dict[str, dict[str | None, int]] = {f: {None: 0} for f in FACETS}
        self.price = np.zeros(0, np.float64)
        self.start = np.zeros(0, np.int32)
        self.end = np.zeros(0, np.int32)
        self.cx = np.zeros(0, np.float64)
        self.cy = np.zeros(0, np.float64)
        self.cz = np.zeros(0, np.float64)
        self.created = np.zeros(0, np.float64)
        self.titles: list[bytes] = []
        self.readings: list[bytes] = []
        # id -> position: a sorted array for the loaded rows, a dict for later ones
        self._sorted_ids = np.zeros(0, np.int64)
        self._sorted_pos = np.zeros(0, np.int64)
        self._recent: dict[int, int] = {}

    # -- loading and changes --------------------------------------------------------------

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, int(self._cap * 1.5) + 1024)
        for name in ("ids", "alive", "price", "start", "end", "cx", "cy", "cz", "created"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        for facet in FACETS:
            new = np.zeros(cap, np.int32)
            new[: self.n] = self.codes[facet][: self.n]
            self.codes[facet] = new
        self._cap = cap

    def _code(self, facet: str, value: str | None) -> int:
        table = self._code_of[facet]
        code = table.get(value)
        if code is None:
            code = table[value] = len(self.vocab[facet])
            self.vocab[facet].append(value)
        return code

    def _write(self, at: np.ndarray, rows: Sequence[tuple]) -> None:
        """Rows (in COLUMNS order) into positions `at`."""
        columns = list(zip(*rows, strict=True))
        self.ids[at] = columns[0]
        self.alive[at] = True
        for facet, index in _FACET_AT.items():
            self.codes[facet][at] = [self._code(facet, v) for v in columns[index]]
        self.price[at] = [np.nan if v is None else float(v) for v in columns[_PRICE]]
        self.start[at] = [_day(v, _NO_START) for v in columns[_START]]
        self.end[at] = [_day(v, _NO_END) for v in columns[_END]]
        for array, index in ((self.cx, _CX), (self.cy, _CY), (self.cz, _CZ)):
            array[at] = [np.nan if v is None else v for v in columns[index]]
        self.created[at] = [np.nan if v is None else v for v in columns[_CREATED]]
        for position, title, reading in zip(at.tolist(), columns[1], columns[2], strict=True):
            encoded = (title or "").encode()
            padded = f" {reading or ''} ".encode()
            if position < len(self.titles):
                self.titles[position] = encoded
                self.readings[position] = padded
            else:
                self.titles.append(encoded)
                self.readings.append(padded)

    def load(self, batches: Iterable[Sequence[tuple]]) -> None:
        """Every row of a build, in batches (id order is fastest but not required)."""
        for rows in batches:
            if not rows:
                continue
            self._grow(self.n + len(rows))
            at = np.arange(self.n, self.n + len(rows))
            self.n += len(rows)
            self._write(at, rows)
        self._reindex()

    def _reindex(self) -> None:
        ids = self.ids[: self.n]
        order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[order]
        self._sorted_pos = order.astype(np.int64)
        self._recent = {}

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions of live rows for `ids` (ids not held are left out)."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.zeros(0, np.int64)
        at = np.searchsorted(self._sorted_ids, ids)
        at[at >= len(self._sorted_ids)] = 0
        found = len(self._sorted_ids) > 0
        hit = (self._sorted_ids[at] == ids) if found else np.zeros(len(ids), bool)
        out = np.where(hit, self._sorted_pos[at] if found else 0, -1)
        if self._recent:
            for n in np.flatnonzero(~hit).tolist():
                out[n] = self._recent.get(int(ids[n]), -1)
        out = out[out >= 0]
        return out[self.alive[out]]

    def _position(self, listing_id: int) -> int:
        at = int(np.searchsorted(self._sorted_ids, listing_id))
        if at < len(self._sorted_ids) and self._sorted_ids[at] == listing_id:
            return int(self._sorted_pos[at])
        return self._recent.get(listing_id, -1)

    def apply(self, changed: Iterable[int], rows: Sequence[tuple], seq: int) -> None:
        """The current key rows of changed ids (an id without a row was deleted)."""
        by_id = {int(row[0]): row for row in rows}
        for listing_id in changed:
            at = self._position(int(listing_id))
            if at >= 0 and int(listing_id) not in by_id:
                self.alive[at] = False
        fresh = []
        for listing_id, row in by_id.items():
            at = self._position(listing_id)
            if at < 0:
                self._grow(self.n + 1)
                at = self.n
                self.n += 1
                self._recent[listing_id] = at
            fresh.append((at, row))
        if fresh:
            self._write(np.array([a for a, _ in fresh], np.int64), [r for _, r in fresh])
        if len(self._recent) > max(10_000, self.n // 20):
            self._reindex()
        self.seq = seq

    @property
    def nbytes(self) -> int:
        arrays = [self.ids, self.alive, self.price, self.start, self.end, self.cx, self.cy]
        arrays += [self.cz, self.created, self._sorted_ids, self._sorted_pos, *self.codes.values()]
        strings = sum(len(t) + 33 for t in self.titles) + sum(len(r) + 33 for r in self.readings)
        return sum(a.nbytes for a in arrays) + strings + 16 * len(self.titles)

    # -- searching ------------------------------------------------------------------------

    def all_positions(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.n])

    def filter(self, positions: np.ndarray, query: SearchQuery) -> np.ndarray:
        """The positions that satisfy the query's exact conditions (the same as the SQL
        conditions of _query.plan)."""
        p = positions
        for facet, values in query.filters.items():
            wanted = [self._code_of[facet][v] for v in values if v in self._code_of[facet]]
            if not wanted:
                return p[:0]
            codes = self.codes[facet][p]
            p = p[codes == wanted[0]] if len(wanted) == 1 else p[np.isin(codes, wanted)]
        if query.price_min is not None:
            p = p[self.price[p] >= query.price_min]  # NaN (no price) compares False
        if query.price_max is not None:
            p = p[self.price[p] <= query.price_max]
        if query.window_to is not None:
            p = p[self.start[p] <= _day(query.window_to.isoformat(), 0)]
        if query.window_from is not None:
            p = p[self.end[p] >= _day(query.window_from.isoformat(), 0)]
        if query.near is not None and query.radius_km is not None:
            p = p[self.chord(p, query.near) <= chord_threshold(query.radius_km)]
        return p

    def chord(self, p: np.ndarray, near: tuple[float, float]) -> np.ndarray:
        """Squared chord to the point, as _query.CHORD computes it (NaN without a place)."""
        nx, ny, nz = unit_vector(*near)
        dx, dy, dz = self.cx[p] - nx, self.cy[p] - ny, self.cz[p] - nz
        return dx * dx + dy * dy + dz * dz

    def counts(self, p: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        out = {}
        for facet in facets:
            tally = np.bincount(self.codes[facet][p], minlength=len(self.vocab[facet]))
            names = self.vocab[facet]
            values = {names[c]: int(tally[c]) for c in np.flatnonzero(tally).tolist() if c}
            out[facet] = dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    def _then(self, p: np.ndarray, query: SearchQuery) -> tuple[np.ndarray, np.ndarray]:
        """(key, tie-break) of the order after relevance, both ascending, NaN-free:
        _query.order's `nearest` or `newest`, or a price order."""
        ids = self.ids[p]
        sort = query.sort
        if sort in ("relevance", "distance") and query.near is not None:
            chord = self.chord(p, query.near)
            return np.where(np.isnan(chord), 8.0, chord), ids  # chord <= 4; no place last
        if sort == "price_asc" or sort == "price_desc":
            price = self.price[p]
            key = price if sort == "price_asc" else -price
            return np.where(np.isnan(price), np.inf, key), ids
        created = self.created[p]  # newest first, then the highest id
        return np.where(np.isnan(created), np.inf, -created), -ids

    def rank(
        self,
        p: np.ndarray,
        query: SearchQuery,
        terms: list[QueryTerm],
        limit: int,
        offset: int,
    ) -> list[int]:
        """The ids of the page, in _query.order's order."""
        want = offset + limit
        if not len(p) or want <= 0:
            return []
        key, tie = self._then(p, query)
        if query.sort != "relevance" or not terms:
            head = _head(key, want)
            return self._page(p[head], key[head], tie[head], offset, limit)
        # Relevance: a tier (0 best) before the key. The tier needs the titles, so rank
        # the first candidates by key; if they hold a whole page of tier 0, no later
        # candidate can enter it.
        tiers = Tiers(self, terms)
        if len(p) > 2 * max(FIRST_CHUNK, want):
            first = _head(key, max(FIRST_CHUNK, want))
            tier = tiers.of(p[first])
            if np.count_nonzero(tier == 0) >= want:
                best = first[tier == 0]
                return self._page(p[best], key[best], tie[best], offset, limit)
        tier = tiers.of(p)
        # tiers 0-3 apart: the key is below 9 (chord) or any float (time, price)
        order = np.lexsort((tie, key, tier))[:want]
        return self.ids[p[order[offset:]]].tolist()

    def _page(self, p, key, tie, offset: int, limit: int) -> list[int]:
        order = np.lexsort((tie, key))[offset : offset + limit]
        return self.ids[p[order]].tolist()


def _head(key: np.ndarray, want: int) -> np.ndarray:
    """Indices of every element whose key is among the `want` smallest (ties at the
    boundary included, so an exact sort of these gives the true first `want`)."""
    if len(key) <= want:
        return np.arange(len(key))
    bound = np.partition(key, want - 1)[want - 1]
    return np.flatnonzero(key <= bound)


class Tiers:
    """_query.order's relevance tiers for candidate rows, from the titles in memory:
    0 every word in the title as typed and whole, 1 in some form and whole, 2 in the
    title at all, 3 elsewhere. LIKE patterns become substring tests on UTF-8 bytes."""

    def __init__(self, columns: Columns, terms: list[QueryTerm]) -> None:
        self.columns = columns
        self.terms = terms

    def _strings(self, p: np.ndarray, column: str) -> list[bytes]:
        if column == "title":
            source = self.columns.titles
            return [source[i] for i in p.tolist()]
        source = self.columns.readings
        strings = [source[i] for i in p.tolist()]
        return strings if column == "words" else [s.replace(b" ", b"") for s in strings]

    @staticmethod
    def _like(strings: list[bytes], pattern: str) -> np.ndarray:
        pieces = [piece.encode() for piece in pattern.split("%") if piece]
        if not pieces:
            return np.ones(len(strings), bool)
        if len(pieces) == 1:
            piece = pieces[0]
            return np.fromiter((piece in s for s in strings), bool, len(strings))

        def ordered(s: bytes) -> bool:
            at = 0
            for piece in pieces:
                found = s.find(piece, at)
                if found < 0:
                    return False
                at = found + len(piece)
            return True

        return np.fromiter((ordered(s) for s in strings), bool, len(strings))

    def _test(self, p: np.ndarray, typed_only: bool, whole: bool) -> np.ndarray:
        """_query._title_test on the rows p."""
        ok = np.ones(len(p), bool)
        cache: dict[str, list[bytes]] = {}
        for term in self.terms:
            options = term.options[: term.typed] if typed_only else term.options
            found = np.zeros(len(p), bool)
            for option in options:
                first = option[0]
                if first.field == TEXT:
                    column, pattern = "title", first.word if whole else first.like
                elif first.field == READING:
                    column = "words" if whole else "reading"
                    pattern = first.word if whole else first.like
                else:
                    continue
                rest = np.flatnonzero(ok & ~found)
                if not len(rest):
                    break
                if column not in cache:
                    cache[column] = self._strings(p, column)
                strings = cache[column]
                found[rest] = self._like([strings[i] for i in rest.tolist()], pattern)
            ok &= found
            if not ok.any():
                break
        return ok

    def of(self, p: np.ndarray) -> np.ndarray:
        tier = np.full(len(p), 3, np.int8)
        rest = np.arange(len(p))
        for value, typed_only, whole in ((0, True, True), (1, False, True), (2, False, False)):
            if not len(rest):
                break
            hit = self._test(p[rest], typed_only, whole)
            tier[rest[hit]] = value
            rest = rest[~hit]
        return tier
