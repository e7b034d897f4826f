"""The embedded search engine: full-text, facets and geo inside the app's own database.

SQLite: an FTS5 table over pre-tokenised text (see text.py) beside a plain table of
facet columns. PostgreSQL: the same terms as a weighted tsvector with a GIN index.
Geo is a bounding-box prefilter on indexed lat/lon, then the exact distance test.
Tables are named search_<name>_* and belong to this package, not to the app's migrations."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import Connection

from . import _query
from ._columns import COLUMNS, Columns
from ._postgres import PostgresFts
from ._schema import INDEXED, LAYOUT_COLUMNS, Tables, chunks, lexicon_rows, prepare, row_key
from ._sqlite import SqliteFts
from .documents import (
    DEFAULT_INDEXABLE_STATUSES,
    ListingDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from .geo import haversine_km
from .synonyms import Synonyms
from .text import QueryTerm, phrases_of, query_terms, text_phrase
from .typos import allowed_typos, corrections, deletions

__all__ = ["EmbeddedIndex", "row_key"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_PG_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
SETTINGS_TTL_S = 10.0  # how soon other processes see new synonyms
ANSWER_HITS = 200  # the first hits kept for a search without words (10 pages of 20)
LOG_KEEP = 50_000  # changes kept in the log; a process further behind reloads everything


class EmbeddedIndex:
    """SearchIndex on SQLite (FTS5) or PostgreSQL (tsvector + GIN)."""

    backend = "embedded"

    def __init__(
        self,
        engine: Engine | str,
        name: str = "listings",
        *,
        indexable_statuses: Iterable[str] = DEFAULT_INDEXABLE_STATUSES,
        batch_size: int = 1000,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"index name {name!r} must match {_NAME.pattern}")
        self.engine = create_engine(engine) if isinstance(engine, str) else engine
        self.name = name
        self.indexable_statuses = frozenset(indexable_statuses)
        self.batch_size = batch_size
        self.tables = Tables(name)
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            self._sql: SqliteFts | PostgresFts = SqliteFts()
        elif dialect == "postgresql":
            self._sql = PostgresFts()
        else:
            raise ValueError(f"embedded search supports SQLite and PostgreSQL, not {dialect}")
        self._synonyms: tuple[float, Synonyms] | None = None
        self._settings_lock = threading.Lock()
        self._columns_held: Columns | None = None
        self._columns_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddedIndex({self.engine.dialect.name}, {self.name!r})"

    @property
    def docs_table(self) -> str:
        return self.tables.keys

    # -- schema ------------------------------------------------------------------------

    def _create_indexes(self, conn: Connection, t: Tables) -> None:
        for columns in INDEXED:
            conn.execute(
                text(
                    f"CREATE INDEX ix_{t.keys}_{'_'.join(columns)} ON {t.keys} ({', '.join(columns)})"
                )
            )
        if isinstance(self._sql, PostgresFts):
            # fastupdate off: upserts go straight into the tree, so searches never
            # scan a pending list
            conn.execute(
                text(
                    f"CREATE INDEX ix_{t.keys}_tsv ON {t.keys} USING GIN (tsv)"
                    " WITH (fastupdate = off)"
                )
            )

    def ensure(self) -> None:
        # Every worker process ensures the index as it starts: one at a time.
        with self._sql.schema_transaction(self.engine, self.tables) as conn:
            self._sql.create_settings(conn, self.tables)
            conn.execute(
                text(
                    f"INSERT INTO {self.tables.clock} (one, build, seq) VALUES (1, :build, 0)"
                    " ON CONFLICT (one) DO NOTHING"
                ),
                {"build": secrets.token_hex(8)},
            )
            inspector = inspect(conn)
            if not inspector.has_table(self.tables.keys):
                self._sql.create(conn, self.tables)
                self._create_indexes(conn, self.tables)
                return
            columns = {column["name"] for column in inspector.get_columns(self.tables.keys)}
            layout = {"rid" if self._sql.dialect == "sqlite" else "tsv", *LAYOUT_COLUMNS}
            if layout <= columns and inspector.has_table(self.tables.lexicon):
                return
        self._migrate()  # tables of an older layout: rebuilt from their own store

    def _stored_documents(self) -> Iterator[ListingDocument]:
        """Every document in the live store, read in id order one batch per transaction
        (so a rebuild can write beside it, even on SQLite)."""
        last = None
        while True:
            sql = f"SELECT id, document FROM {self.tables.store}"
            params: dict = {"n": self.batch_size}
            if last is not None:
                sql += " WHERE id > :last"
                params["last"] = last
            with self.engine.connect() as conn:
                rows = conn.execute(text(sql + " ORDER BY id LIMIT :n"), params).all()
            if not rows:
                return
            for _, document in rows:
                yield ListingDocument.from_json_dict(json.loads(document))
            last = rows[-1][0]

    def _migrate(self) -> None:
        self.rebuild(self._stored_documents())

    def drop(self) -> None:
        with self.engine.begin() as conn:
            t = self.tables
            for table in (*self._sql.all(t), t.settings, t.versions, t.log, t.clock):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        self._synonyms = None
        self._columns_held = None

    # -- settings ----------------------------------------------------------------------

    def set_synonyms(self, synonyms: Synonyms) -> None:
        """Store the synonyms beside the index: every process reads them within
        SETTINGS_TTL_S seconds; a rebuild keeps them."""
        with self.engine.begin() as conn:
            self._sql.create_settings(conn, self.tables)
            conn.execute(
                text(
                    f"INSERT INTO {self.tables.settings} (key, value) VALUES ('synonyms', :v)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                {"v": synonyms.to_json()},
            )
        self._synonyms = (time.monotonic(), synonyms)

    def synonyms(self) -> Synonyms:
        cached = self._synonyms
        if cached is not None and time.monotonic() - cached[0] < SETTINGS_TTL_S:
            return cached[1]
        with self._settings_lock:
            with self.engine.connect() as conn:
                rows = self._rows(
                    conn,
                    f"SELECT value FROM {self.tables.settings} WHERE key = 'synonyms'",
                    {},
                )
            synonyms = Synonyms.from_json(rows[0][0] if rows else None)
            if cached is not None and cached[1] == synonyms:
                synonyms = cached[1]  # keep the parsed one
            self._synonyms = (time.monotonic(), synonyms)
            return synonyms

    # -- writes ------------------------------------------------------------------------

    def upsert(
        self,
        documents: Iterable[ListingDocument],
        *,
        wait: bool = True,
        versions: Mapping[int, int] | None = None,
    ) -> int:
        indexed = 0
        for chunk in chunks(documents, self.batch_size):
            latest = {d.id: d for d in chunk}  # the last version in one call wins
            with self.engine.begin() as conn:
                current = self._claim(conn, sorted(latest), versions)
                latest = {i: d for i, d in latest.items() if i in current}
                keep = [prepare(d) for d in latest.values() if d.status in self.indexable_statuses]
                words = set().union(*(p.words for p in keep)) if keep else set()
                if latest:
                    self._sql.delete(conn, self.tables, sorted(latest))
                if keep:
                    self._sql.insert(conn, self.tables, keep)
                new_words = words - self._known_words(conn, words)
                if new_words:
                    self._sql.add_words(conn, self.tables, lexicon_rows(new_words))
                self._log_changes(conn, sorted(latest))
            indexed += len(keep)
        return indexed

    def _claim(
        self, conn: Connection, ids: list[int], versions: Mapping[int, int] | None
    ) -> set[int]:
        """Lock the ids' rows in the versions table for this transaction and return the
        ids whose change is not older than the last one written.

        Two writes of one listing at once would both delete its rows and both insert
        them (a duplicate key, or a deadlock, on PostgreSQL); and a write that was read
        from the database earlier but arrives later would put the old content back. The
        versions rows, taken in id order, make writes of one listing wait for each other,
        and a versioned write older than the one already applied changes nothing. A write
        without a version (rebuild, repair, tests) always applies."""
        if not ids:
            return set()
        t = self.tables.versions
        params = {f"i{n}": listing_id for n, listing_id in enumerate(ids)}
        rows = ", ".join(f"(:i{n}, 0)" for n in range(len(ids)))
        # DO UPDATE (to the same value), not DO NOTHING: it locks a row that exists.
        applied = dict(
            conn.execute(
                text(
                    f"INSERT INTO {t} (id, version) VALUES {rows}"
                    f" ON CONFLICT (id) DO UPDATE SET version = {t}.version RETURNING id, version"
                ),
                params,
            ).all()
        )
        given = versions or {}
        current = {i for i in ids if given.get(i) is None or given[i] >= applied[i]}
        newer = [
            {"id": i, "version": given[i]}
            for i in sorted(current)
            if given.get(i) is not None and given[i] > applied[i]
        ]
        if newer:
            conn.execute(text(f"UPDATE {t} SET version = :version WHERE id = :id"), newer)
        return current

    def _log_changes(self, conn: Connection, ids: list[int]) -> None:
        """Note the ids this transaction wrote under the next change number. The clock
        row stays locked until commit, so numbers become visible in their order: a
        process that has read up to n has missed nothing below n."""
        if not ids:
            return
        t = self.tables
        seq = conn.execute(text(f"UPDATE {t.clock} SET seq = seq + 1 RETURNING seq")).scalar()
        if seq is None:  # tables of a version without the log: ensure() adds them
            return
        conn.execute(
            text(f"INSERT INTO {t.log} (seq, id) VALUES (:seq, :id)"),
            [{"seq": seq, "id": i} for i in ids],
        )
        if seq % 1000 == 0:
            conn.execute(text(f"DELETE FROM {t.log} WHERE seq <= :old"), {"old": seq - LOG_KEEP})

    def _known_words(self, conn: Connection, words: set[str]) -> set[str]:
        if not words:
            return set()
        names = {f"w{i}": w for i, w in enumerate(sorted(words))}
        marks = ", ".join(f":{n}" for n in names)
        sql = f"SELECT word FROM {self.tables.lexicon} WHERE key IN ({marks}) AND key = word"
        return {row[0] for row in self._rows(conn, sql, names)}

    def delete(
        self, ids: Iterable[int], *, wait: bool = True, versions: Mapping[int, int] | None = None
    ) -> None:
        # Words stay in the lexicon: a correction to a word no listing has any more
        # finds nothing, and a rebuild forgets it.
        for chunk in chunks(ids, self.batch_size):
            with self.engine.begin() as conn:
                current = self._claim(conn, sorted({int(i) for i in chunk}), versions)
                if current:
                    self._sql.delete(conn, self.tables, sorted(current))
                    self._log_changes(conn, sorted(current))

    def rebuild(self, documents: Iterable[ListingDocument]) -> int:
        """Load a new generation of tables beside the live ones, index them, then drop
        the old and rename the new in one transaction: readers never see a gap."""
        fresh = Tables(self.name, f"__{secrets.token_hex(4)}")
        indexed = 0
        words: set[str] = set()
        try:
            with self.engine.begin() as conn:
                self._sql.create(conn, fresh)
                self._sql.begin_load(conn, fresh)
            for chunk in chunks(documents, self.batch_size * 5):
                latest = {d.id: d for d in chunk if d.status in self.indexable_statuses}
                if latest:
                    rows = [prepare(d) for d in latest.values()]
                    for p in rows:
                        words |= p.words
                    with self.engine.begin() as conn:
                        self._sql.bulk_insert(conn, fresh, rows)
                indexed += len(latest)
            with self.engine.begin() as conn:
                self._sql.finish_load(conn, fresh)
                for chunk in chunks(lexicon_rows(words), 50_000):
                    self._sql.add_words(conn, fresh, chunk)
                self._create_indexes(conn, fresh)  # faster after the load than during
                if isinstance(self._sql, PostgresFts):
                    conn.execute(text(f"ANALYZE {fresh.keys}"))
            # a new build token: every process loads its columns from the new tables
            build = secrets.token_hex(8)
            self._sql.swap(
                self.engine,
                self._sql.all(fresh),
                self._sql.all(self.tables),
                f"UPDATE {self.tables.clock} SET build = '{build}', seq = seq + 1",
            )
        except BaseException:
            with self.engine.begin() as conn:
                for table in (*self._sql.all(fresh), *self._sql.leftovers(fresh)):
                    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            raise
        return indexed

    # -- reads -------------------------------------------------------------------------

    def fingerprints(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            result = conn.execute(text(f"SELECT id, content_hash FROM {self.tables.keys}"))
            return {int(row[0]): row[1] for row in result}

    def _rows(self, conn: Connection, sql: str, params: Mapping) -> list[tuple]:
        """Run a read straight on the DB-API cursor: SQLAlchemy's text() compilation and
        row processing cost ~1 ms per search, as much as the database's own work.
        SQL is written with :name parameters (sqlite3's own style); for psycopg they
        are rewritten to %(name)s."""
        raw = conn.connection.driver_connection
        autocommit = False
        if self._sql.dialect == "postgresql":
            sql = _PG_PARAM.sub(r"%(\1)s", sql)
            # One read statement needs no transaction: autocommit saves the BEGIN and
            # ROLLBACK round trips (a third of a short search's wall time).
            autocommit = not raw.autocommit and raw.info.transaction_status.name == "IDLE"
            if autocommit:
                raw.autocommit = True
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()
            if autocommit:
                raw.autocommit = False

    def _corrected(self, conn: Connection, terms: list[QueryTerm]) -> list[QueryTerm]:
        """Latin words nobody wrote, corrected to the nearest words that someone did
        (one typo from 5 letters, two from 9; as typed, a last word is a prefix)."""
        out = []
        for term in terms:
            word = term.typo_word
            if word is None or not allowed_typos(word):
                out.append(term)
                continue
            keys = deletions(word, allowed_typos(word))
            names = {f"k{i}": key for i, key in enumerate(sorted(keys))}
            sql = (
                f"SELECT DISTINCT word FROM {self.tables.lexicon}"
                f" WHERE key IN ({', '.join(':' + n for n in names)})"
            )
            found = [row[0] for row in self._rows(conn, sql, names)]
            if word in found or (term.last and self._known_prefix(conn, word)):
                out.append(term)
                continue
            options: list = []
            for fix in corrections(word, found):
                options.append((text_phrase([fix], False, term.last),))
                # what the corrected word means, too (palets → pallets → パレット)
                options += [phrases_of(alt) for alt in self.synonyms().expand(fix, kana=False)]
            out.append(term.with_options(options))
        return out

    def _known_prefix(self, conn: Connection, word: str) -> bool:
        sql = (
            f"SELECT 1 FROM {self.tables.lexicon} WHERE key >= :lo AND key < :hi"
            " AND key = word LIMIT 1"
        )
        return bool(self._rows(conn, sql, {"lo": word, "hi": word + "\uffff"}))

    def _terms(self, conn: Connection, query: SearchQuery) -> list[QueryTerm]:
        terms = query_terms(query.text, self.synonyms())
        if any(t.typo_word for t in terms):
            terms = self._corrected(conn, terms)
        return terms

    def _source(self, conn: Connection, query: SearchQuery):
        """(FROM clause, plan, terms)."""
        terms = self._terms(conn, query)
        planned = _query.plan(query, terms, self._sql.match)
        if not planned.narrowed:
            return f"{self.tables.keys} d", planned, terms
        return self._sql.candidates(self.tables, planned.params), planned, terms

    def count(self, query: SearchQuery | None = None) -> int:
        return self._ranked(query or SearchQuery(per_page=1), with_page=False)[0]

    # -- the in-memory columns ------------------------------------------------------------

    def _columns(self, conn: Connection) -> Columns:
        """This process's columns, brought up to the last change committed (call with
        _columns_lock held)."""
        t = self.tables
        clock = self._rows(conn, f"SELECT build, seq FROM {t.clock}", {})
        build, seq = clock[0] if clock else ("", 0)
        held = self._columns_held
        if held is not None and held.build == build:
            if held.seq >= seq:
                return held
            lowest = self._rows(conn, f"SELECT min(seq) FROM {t.log}", {})[0][0]
            if lowest is not None and lowest <= held.seq + 1:
                changed = [
                    row[0]
                    for row in self._rows(
                        conn,
                        f"SELECT DISTINCT id FROM {t.log} WHERE seq > :last AND seq <= :now",
                        {"last": held.seq, "now": seq},
                    )
                ]
                rows = []
                for chunk in chunks(changed, 500):
                    names = {f"i{n}": i for n, i in enumerate(chunk)}
                    rows += self._rows(
                        conn,
                        f"SELECT {', '.join(COLUMNS)} FROM {t.keys}"
                        f" WHERE id IN ({', '.join(':' + n for n in names)})",
                        names,
                    )
                held.apply(changed, rows, seq)
                return held
        # First search, a rebuild, or too far behind the log: load every row.
        self._columns_held = None
        fresh = Columns(build, seq)
        fresh.load(self._key_batches(conn))
        self._columns_held = fresh
        return fresh

    def _key_batches(self, conn: Connection) -> Iterator[list[tuple]]:
        raw = conn.connection.driver_connection
        postgres = self._sql.dialect == "postgresql"
        # PostgreSQL: a server-side cursor, so the client never holds every row at once
        cursor = raw.cursor(name="search_columns") if postgres else raw.cursor()
        try:
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.tables.keys}")
            while rows := cursor.fetchmany(50_000):
                yield rows
        finally:
            cursor.close()
            if postgres:
                raw.rollback()  # the read's implicit transaction

    def _matches(self, conn: Connection, columns: Columns, terms: list[QueryTerm]) -> np.ndarray:
        """Listing ids whose text matches every term: each term's ids (any of its
        options) from the inverted index, or from memory for a word that matches many
        listings (see Columns.words), intersected smallest first."""
        found = []
        for term in terms:
            expression = self._sql.match([term], [])
            key = "\x00".join(expression.values())
            ids = columns.word(key)
            if ids is not None and columns.word_dirty(key):
                changed = sorted(columns.word_dirty(key))
                ids = np.union1d(
                    np.setdiff1d(ids, np.array(changed, np.int64), assume_unique=True),
                    self._term_ids(conn, expression, changed),
                )
                columns.keep_word(key, ids)
            elif ids is None:
                ids = self._term_ids(conn, expression, None)
                columns.keep_word(key, ids)
            found.append(ids)
        found.sort(key=len)
        ids = found[0]
        for other in found[1:]:
            ids = np.intersect1d(ids, other, assume_unique=True)
        return ids

    def _term_ids(self, conn: Connection, expression: dict, among: list[int] | None) -> np.ndarray:
        """Sorted ids matching one term's expression (among some ids only)."""
        t = self.tables
        names = {}
        if among is not None:
            names = {f"i{n}": i for n, i in enumerate(among)}
        marks = ", ".join(":" + n for n in names)
        if self._sql.dialect == "sqlite":
            sql = f"SELECT rowid FROM {t.fts} WHERE {t.fts} MATCH :q"
            if among is not None:
                sql += f" AND rowid IN (SELECT rid FROM {t.keys} WHERE id IN ({marks}))"
            rows = self._rows(conn, sql, {**expression, **names})
            rids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
            return np.unique(_ids_of_rows(rids))
        matches = " AND ".join(f"tsv @@ CAST(:{name} AS tsquery)" for name in expression)
        sql = f"SELECT id FROM {t.keys} WHERE {matches}"
        if among is not None:
            sql += f" AND id IN ({marks})"
        rows = self._rows(conn, sql, {**expression, **names})
        return np.unique(np.fromiter((row[0] for row in rows), np.int64, len(rows)))

    def _ranked(self, query: SearchQuery, with_page: bool = True):
        """(total, page ids, facet counts) of a query, from the inverted index and the
        columns in memory."""
        with self.engine.connect() as conn:
            terms = self._terms(conn, query)
            with self._columns_lock:
                columns = self._columns(conn)
                kept = columns.answer(query) if not terms else None
                if kept is not None:  # the same filters since the last change
                    total, counts, first = kept
                    page = first[query.offset : query.offset + query.per_page]
                    return total, page, counts, self._documents(conn, page)
                ids = self._matches(conn, columns, terms) if terms else None
                p = columns.filter(None if ids is None else columns.positions(ids), query)
                if not with_page:
                    return len(p), [], {}
                counts = columns.counts(p, list(query.facets))
                if not terms and query.offset + query.per_page <= ANSWER_HITS:
                    first = columns.rank(p, query, terms, ANSWER_HITS, 0)
                    columns.keep_answer(query, (len(p), counts, first))
                    page = first[query.offset : query.offset + query.per_page]
                else:
                    page = columns.rank(p, query, terms, query.per_page, query.offset)
            return len(p), page, counts, self._documents(conn, page)

    def _documents(self, conn: Connection, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        names = {f"i{n}": i for n, i in enumerate(ids)}
        sql = (
            f"SELECT id, document FROM {self.tables.store}"
            f" WHERE id IN ({', '.join(':' + n for n in names)})"
        )
        return {int(row[0]): row[1] for row in self._rows(conn, sql, names)}

    def search(self, query: SearchQuery) -> SearchResults:
        total, page, counts, stored = self._ranked(query)
        # a listing deleted between the match and this read has no document: left out
        page = [i for i in page if i in stored]
        documents = json.loads("[" + ",".join(stored[i] for i in page) + "]")
        return SearchResults(
            hits=[self._hit(query, i, data) for i, data in zip(page, documents, strict=True)],
            total=total,
            page=query.page,
            per_page=query.per_page,
            facets=counts,
        )

    @staticmethod
    def _hit(query: SearchQuery, hit_id: int, data: dict) -> SearchHit:
        document = ListingDocument.from_json_dict(data)
        distance = None
        if query.near is not None and document.lat is not None and document.lon is not None:
            distance = haversine_km(*query.near, document.lat, document.lon)
        return SearchHit(id=hit_id, document=document, distance_km=distance)

    # -- the same in one SQL statement (the engine before the columns; tests compare) --

    def _count_sql(self, query: SearchQuery | None = None) -> int:
        with self.engine.connect() as conn:
            source, planned, _ = self._source(conn, query or SearchQuery())
            sql = f"SELECT count(*) FROM {source}"
            if planned.where:
                sql += " WHERE " + " AND ".join(planned.where)
            return int(self._rows(conn, sql, planned.params)[0][0])

    def _search_sql(self, query: SearchQuery) -> SearchResults:
        facets = list(query.facets)
        with self.engine.connect() as conn:
            source, planned, terms = self._source(conn, query)
            params = planned.params
            sort = _query.order(query, terms, params)
            sql = _query.statement(
                source, planned.where, sort, facets, planned.narrowed, self.tables.store
            )
            params = {**params, "limit": query.per_page, "offset": query.offset}
            rows = self._rows(conn, sql, params)

        page: list[int] = []
        stored: list[str] = []
        total = 0
        counts: dict[str, dict[str, int]] = {f: {} for f in facets}
        for row in rows:
            if row[0] == "hit":
                page.append(int(row[1]))
                stored.append(row[-1])
                continue
            n = int(row[-2])
            total += n
            for facet, value in zip(facets, row[2:-2], strict=True):
                if value is not None:
                    counts[facet][value] = counts[facet].get(value, 0) + n

        hits = []
        documents = json.loads("[" + ",".join(stored) + "]")  # one decoder call a page
        for hit_id, data in zip(page, documents, strict=True):
            document = ListingDocument.from_json_dict(data)
            distance = None
            if query.near is not None and document.lat is not None and document.lon is not None:
                distance = haversine_km(*query.near, document.lat, document.lon)
            hits.append(SearchHit(id=hit_id, document=document, distance_km=distance))
        # most frequent first, like Meilisearch's count sort
        ordered = {
            facet: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
            for facet, values in counts.items()
        }
        return SearchResults(
            hits=hits, total=total, page=query.page, per_page=query.per_page, facets=ordered
        )


def _ids_of_rows(rids: np.ndarray) -> np.ndarray:
    """Listing ids of SQLite rowids (the inverse of _schema.row_key)."""
    ids = rids & 0xFFFFFFFF
    negative = rids < 0
    if negative.any():
        ids[negative] = np.where(rids[negative] > -(1 << 32), rids[negative], -rids[negative])
    return ids
