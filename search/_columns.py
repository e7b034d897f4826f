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
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from ._tiers import Tiers
from ._words import WordIds
from .documents import FACETS, SearchQuery
from .geo import bounding_box, chord_threshold, unit_vector
from .text import QueryTerm

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
GRID_DEG = 0.5  # ~55 km cells
_GRID_ROW = 1 << 12  # cells in a row of the key (360 / GRID_DEG < 4096)
FIRST_CHUNK = 2048
TITLE_TESTS = 64  # title tests remembered per row (1 byte a row each)
ANSWERS = 256  # searches without words answered from memory until the next change


def _day(value: str | None, missing: int) -> int:
    """'2025-03-01' -> 20250301 (the order of the ISO text the SQL compared)."""
    if not value:
        return missing
    return int(value[:4]) * 10000 + int(value[5:7]) * 100 + int(value[8:10])


def _encode(text: str | None) -> bytes:
    return text.encode() if text else b""


def _floats(values: Sequence) -> np.ndarray:
    """Floats with NaN for None, without a Python step per value."""
    array = np.array(values, dtype=object)
    array[np.equal(array, None)] = np.nan
    return array.astype(np.float64)


def _days(values: Sequence[str | None], missing: int) -> np.ndarray:
    """ISO dates as YYYYMMDD numbers (missing for None), without a Python step per value."""
    array = np.array(values, dtype=object)
    empty = np.equal(array, None) | np.equal(array, "")
    array[empty] = "0000-00-00"
    digits = np.strings.replace(array.astype("U10"), "-", "")
    return np.where(empty, missing, digits.astype(np.int64)).astype(np.int32)


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
        # id -> position: a direct table while ids are dense (listing ids are a
        # sequence); else a sorted array for the loaded rows and a dict for later ones
        self._slot: np.ndarray | None = None
        self._sorted_ids = np.zeros(0, np.int64)
        self._sorted_pos = np.zeros(0, np.int64)
        self._recent: dict[int, int] = {}
        # positions by grid cell (GRID_DEG) for radius searches over everything; rows
        # written since (new or moved) are tested one by one
        self._cell_keys = np.zeros(0, np.int64)
        self._cell_pos = np.zeros(0, np.int64)
        self._moved: list[int] = []
        self._sparse = False
        # query words' ids (search/_words.py): the postings of the words people search
        self.words = WordIds(seq)
        self._tests: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._answers: OrderedDict[tuple, tuple] = OrderedDict()

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
        for state in self._tests.values():  # rows written again are tested again
            state[at[at < len(state)]] = 0
        self.ids[at] = columns[0]
        self.alive[at] = True
        for facet, index in _FACET_AT.items():
            values = columns[index]
            table = self._code_of[facet]
            for value in set(values) - table.keys():
                self._code(facet, value)
            self.codes[facet][at] = np.fromiter(map(table.__getitem__, values), np.int32, len(at))
        self.price[at] = _floats(columns[_PRICE])
        self.start[at] = _days(columns[_START], _NO_START)
        self.end[at] = _days(columns[_END], _NO_END)
        for array, index in (
            (self.cx, _CX),
            (self.cy, _CY),
            (self.cz, _CZ),
            (self.created, _CREATED),
        ):
            array[at] = _floats(columns[index])
        titles = list(map(_encode, columns[1]))
        readings = [b" " + r + b" " for r in map(_encode, columns[2])]
        if int(at.min()) >= len(self.titles) and np.all(np.diff(at) == 1):
            self.titles.extend(titles)  # a load: rows at the end, in order
            self.readings.extend(readings)
            return
        for position, title, reading in zip(at.tolist(), titles, readings, strict=True):
            if position < len(self.titles):
                self.titles[position] = title
                self.readings[position] = reading
            else:
                self.titles.append(title)
                self.readings.append(reading)

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

    def _dense_limit(self) -> int:
        return 4 * self.n + 1_000_000

    def _reindex(self) -> None:
        ids = self.ids[: self.n]
        self._recent = {}
        self._sparse = False
        self._moved = []
        if self.n and ids.min() >= 0 and ids.max() < self._dense_limit():
            self._slot = np.full(int(ids.max()) + 1, -1, np.int64)
            self._slot[ids] = np.arange(self.n)
            self._sorted_ids = self._sorted_pos = np.zeros(0, np.int64)
        else:
            self._slot = None
            order = np.argsort(ids, kind="stable")
            self._sorted_ids = ids[order]
            self._sorted_pos = order.astype(np.int64)
        placed = np.flatnonzero(~np.isnan(self.cz[: self.n]))
        keys = self._cells(placed)
        order = np.argsort(keys, kind="stable")
        self._cell_keys = keys[order]
        self._cell_pos = placed[order]

    def _cells(self, p: np.ndarray) -> np.ndarray:
        lat = np.degrees(np.arcsin(np.clip(self.cz[p], -1.0, 1.0)))
        lon = np.degrees(np.arctan2(self.cy[p], self.cx[p]))
        row = np.floor((lat + 90.0) / GRID_DEG).astype(np.int64)
        column = np.floor((lon + 180.0) / GRID_DEG).astype(np.int64)
        return row * _GRID_ROW + np.clip(column, 0, _GRID_ROW - 1)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions of live rows for `ids` (ids not held are left out)."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.zeros(0, np.int64)
        if self._slot is not None:
            inside = (ids >= 0) & (ids < len(self._slot))
            out = self._slot[np.where(inside, ids, 0)]
            out = out[inside & (out >= 0)]
            return out[self.alive[out]]
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
        if self._slot is not None:
            if 0 <= listing_id < len(self._slot) and self._slot[listing_id] >= 0:
                return int(self._slot[listing_id])
            return self._recent.get(listing_id, -1)
        at = int(np.searchsorted(self._sorted_ids, listing_id))
        if at < len(self._sorted_ids) and self._sorted_ids[at] == listing_id:
            return int(self._sorted_pos[at])
        return self._recent.get(listing_id, -1)

    def apply(self, changed: Iterable[int], rows: Sequence[tuple], seq: int) -> None:
        """The current key rows of changed ids (an id without a row was deleted)."""
        changed = [int(i) for i in changed]
        self.words.changed(changed, seq)
        self._answers.clear()
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
                self._place(listing_id, at)
            fresh.append((at, row))
            self._moved.append(at)
        if fresh:
            self._write(np.array([a for a, _ in fresh], np.int64), [r for _, r in fresh])
        if self._sparse or len(self._recent) + len(self._moved) > max(10_000, self.n // 20):
            self._reindex()
        self.seq = seq

    def title_test(self, p: np.ndarray, key: tuple[str, str], test) -> np.ndarray:
        """A title test's answer for rows p: remembered per row (0 not known, 1 no,
        2 yes) for the tests of recent queries, so a common word's titles are read once;
        a row written again is tested again."""
        state = self._tests.pop(key, None)
        if state is None or len(state) < self.n:
            grown = np.zeros(max(self._cap, self.n), np.uint8)
            if state is not None:
                grown[: len(state)] = state
            state = grown
        self._tests[key] = state
        while len(self._tests) > TITLE_TESTS:
            self._tests.popitem(last=False)
        known = state[p]
        unknown = known == 0
        if unknown.any():
            asked = p[unknown]
            known[unknown] = np.where(test(asked), 2, 1)
            state[asked] = known[unknown]
        return known == 2

    @staticmethod
    def _answer_key(query: SearchQuery):
        if query.near is not None:  # places vary too much to be worth keeping
            return None
        return (
            tuple(sorted((f, tuple(v)) for f, v in query.filters.items())),
            query.price_min,
            query.price_max,
            query.window_from,
            query.window_to,
            query.sort,
            tuple(query.facets),
        )

    def answer(self, query: SearchQuery):
        """(total, facet counts, first ids) of a search without words asked since the
        last change (the landing page, a facet clicked): materialised until any write."""
        key = self._answer_key(query)
        return None if key is None else self._answers.get(key)

    def keep_answer(self, query: SearchQuery, answer: tuple) -> None:
        key = self._answer_key(query)
        if key is not None:
            self._answers[key] = answer
            while len(self._answers) > ANSWERS:
                self._answers.popitem(last=False)

    def _place(self, listing_id: int, at: int) -> None:
        if self._slot is not None:
            if 0 <= listing_id < self._dense_limit():
                if listing_id >= len(self._slot):
                    grown = np.full(max(listing_id + 1, len(self._slot) * 3 // 2), -1, np.int64)
                    grown[: len(self._slot)] = self._slot
                    self._slot = grown
                self._slot[listing_id] = at
                return
            self._sparse = True  # apply() switches to sorted ids once the rows are in
        self._recent[listing_id] = at

    @property
    def nbytes(self) -> int:
        arrays = [self.ids, self.alive, self.price, self.start, self.end, self.cx, self.cy]
        arrays += [self.cz, self.created, self._sorted_ids, self._sorted_pos, *self.codes.values()]
        arrays += [self._cell_keys, self._cell_pos]
        if self._slot is not None:
            arrays.append(self._slot)
        strings = sum(len(t) + 33 for t in self.titles) + sum(len(r) + 33 for r in self.readings)
        return sum(a.nbytes for a in arrays) + strings + 16 * len(self.titles)

    # -- searching ------------------------------------------------------------------------

    def all_positions(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.n])

    def near(self, lat: float, lon: float, radius_km: float) -> np.ndarray:
        """Live positions within the radius, from the grid cells that cover it."""
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
        if min_lon is None or max_lon is None:
            p = self.all_positions()
        else:
            rows = np.arange(
                np.floor((min_lat + 90.0) / GRID_DEG), np.floor((max_lat + 90.0) / GRID_DEG) + 1
            ).astype(np.int64)
            first = int(np.floor((min_lon + 180.0) / GRID_DEG))
            last = int(np.floor((max_lon + 180.0) / GRID_DEG))
            starts = np.searchsorted(self._cell_keys, rows * _GRID_ROW + first, "left")
            ends = np.searchsorted(self._cell_keys, rows * _GRID_ROW + last, "right")
            pieces = [
                self._cell_pos[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ]
            if self._moved:
                pieces.append(np.array(self._moved, np.int64))
            p = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
            if self._moved:
                p = np.unique(p)
            else:
                p.sort()
            p = p[self.alive[p]]
        return p[self.chord(p, (lat, lon)) <= chord_threshold(radius_km)]

    def filter(self, positions: np.ndarray | None, query: SearchQuery) -> np.ndarray:
        """The positions that satisfy the query's exact conditions (the same as the SQL
        conditions of _query.plan); None: all."""
        placed = query.near is not None and query.radius_km is not None
        if positions is None and not placed:
            return self._filter_all(query)
        if positions is None:
            positions = self.near(*query.near, query.radius_km)
            placed = False
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
        if placed:
            p = p[self.chord(p, query.near) <= chord_threshold(query.radius_km)]
        return p

    def _filter_all(self, query: SearchQuery) -> np.ndarray:
        """filter() over every row: one boolean mask, no gathers."""
        n = self.n
        mask = self.alive[:n].copy()
        for facet, values in query.filters.items():
            wanted = [self._code_of[facet][v] for v in values if v in self._code_of[facet]]
            if not wanted:
                return np.zeros(0, np.int64)
            codes = self.codes[facet][:n]
            mask &= (codes == wanted[0]) if len(wanted) == 1 else np.isin(codes, wanted)
        if query.price_min is not None:
            mask &= self.price[:n] >= query.price_min
        if query.price_max is not None:
            mask &= self.price[:n] <= query.price_max
        if query.window_to is not None:
            mask &= self.start[:n] <= _day(query.window_to.isoformat(), 0)
        if query.window_from is not None:
            mask &= self.end[:n] >= _day(query.window_from.isoformat(), 0)
        return np.flatnonzero(mask)

    def chord(self, p: np.ndarray, near: tuple[float, float]) -> np.ndarray:
        """Squared chord to the point, as _query.CHORD computes it (NaN without a place)."""
        nx, ny, nz = unit_vector(*near)
        dx, dy, dz = self.cx[p] - nx, self.cy[p] - ny, self.cz[p] - nz
        return dx * dx + dy * dy + dz * dz

    def counts(self, p: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        out = {}
        everything = len(p) == self.n  # every row (none deleted): no gather
        for facet in facets:
            codes = self.codes[facet][: self.n] if everything else self.codes[facet][p]
            tally = np.bincount(codes, minlength=len(self.vocab[facet]))
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
        # Relevance: a tier (0 best) before the key. Tiers need the titles, so rank
        # the candidates with the smallest keys first: if t is the best tier that
        # fills the page among them, a later candidate (larger key) can only enter
        # the page with a tier below t, and only those tiers are tested on the rest.
        tiers = Tiers(self, terms)
        size = max(FIRST_CHUNK, want)
        if len(p) <= 2 * size:
            tier = tiers.of(p)
            order = np.lexsort((tie, key, tier))[offset:want]
            return self.ids[p[order]].tolist()
        first = _head(key, size)
        tier_first = tiers.of(p[first])
        filled = np.cumsum(np.bincount(tier_first, minlength=4)) >= want
        bound = int(np.argmax(filled)) if filled.any() else 4
        keep = [first[tier_first <= bound]]
        kept_tiers = [tier_first[tier_first <= bound]]
        if bound > 0:
            rest = np.ones(len(p), bool)
            rest[first] = False
            rest = np.flatnonzero(rest)
            tier_rest = tiers.of(p[rest], below=bound)
            keep.append(rest[tier_rest < bound])
            kept_tiers.append(tier_rest[tier_rest < bound])
        chosen = np.concatenate(keep)
        tier = np.concatenate(kept_tiers)
        order = np.lexsort((tie[chosen], key[chosen], tier))[offset:want]
        return self.ids[p[chosen[order]]].tolist()

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
