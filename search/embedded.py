"""The embedded search engine: full-text, facets and geo inside the app's own database.

SQLite: an FTS5 table over pre-tokenised text (see text.py) beside a plain table of
facet columns. PostgreSQL: the same terms as a weighted tsvector with a GIN index.
Geo is a bounding-box prefilter on indexed lat/lon, then the exact distance test.
Tables are named search_<name>_* and belong to this package, not to the app's migrations."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import Connection

from . import _sql_search, _sync
from ._columns import Columns
from ._postgres import PostgresFts
from ._schema import INDEXED, LAYOUT_COLUMNS, Tables, chunks, lexicon_rows, prepare, row_key
from ._sqlite import SqliteFts
from .documents import DEFAULT_INDEXABLE_STATUSES, ListingDocument, SearchQuery, SearchResults
from .synonyms import Synonyms
from .text import QueryTerm, phrases_of, query_terms, text_phrase
from .typos import allowed_typos, corrections, deletions

__all__ = ["EmbeddedIndex", "row_key"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_PG_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
SETTINGS_TTL_S = 10.0  # how soon other processes see new synonyms
ANSWER_HITS = 200  # the first hits kept for a search without words (10 pages of 20)
LOG_KEEP = 50_000  # changes kept in the log; a process further behind reloads everything
REDO = 3  # pages ranked again at most when the clock shows changes (then the last is kept)
log = logging.getLogger(__name__)


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
        self._background = False  # warm() was called: load in a thread, SQL meanwhile
        self._loading: threading.Thread | None = None
        self._unsaved: list[tuple] = []  # common words' ids read, not yet persisted
        self._lookups: tuple = (None, {})  # typo lexicon answers (_lexicon_lookup)

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
            for table in (*self._sql.all(t), t.settings, t.versions, t.log, t.clock, t.words):
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

    def _corrected(self, conn: Connection, terms: list[QueryTerm], stamp) -> list[QueryTerm]:
        """Latin words nobody wrote, corrected to the nearest words that someone did
        (one typo from 5 letters, two from 9; as typed, a last word is a prefix)."""
        out = []
        for term in terms:
            word = term.typo_word
            if word is None or not allowed_typos(word):
                out.append(term)
                continue
            found, known = self._lexicon_lookup(conn, word, term.last, stamp)
            if known:
                out.append(term)
                continue
            options: list = []
            for fix in corrections(word, found):
                options.append((text_phrase([fix], False, term.last),))
                # what the corrected word means, too (palets → pallets → パレット)
                options += [phrases_of(alt) for alt in self.synonyms().expand(fix, kana=False)]
            out.append(term.with_options(options))
        return out

    def _lexicon_lookup(self, conn: Connection, word: str, last: bool, stamp) -> tuple:
        """(words within the word's typos, whether someone wrote it): remembered until
        the next change (`stamp`: the columns' build and change number), since only a
        write adds words."""
        if stamp is not None and self._lookups[0] != stamp:
            self._lookups = (stamp, {})
        remembered = self._lookups[1] if stamp is not None else {}
        answer = remembered.get((word, last))
        if answer is None:
            keys = deletions(word, allowed_typos(word))
            names = {f"k{i}": key for i, key in enumerate(sorted(keys))}
            sql = (
                f"SELECT DISTINCT word FROM {self.tables.lexicon}"
                f" WHERE key IN ({', '.join(':' + n for n in names)})"
            )
            found = [row[0] for row in self._rows(conn, sql, names)]
            known = word in found or (last and self._known_prefix(conn, word))
            answer = remembered[(word, last)] = (found, known)
        return answer

    def _known_prefix(self, conn: Connection, word: str) -> bool:
        sql = (
            f"SELECT 1 FROM {self.tables.lexicon} WHERE key >= :lo AND key < :hi"
            " AND key = word LIMIT 1"
        )
        return bool(self._rows(conn, sql, {"lo": word, "hi": word + "\uffff"}))

    def _terms(
        self, conn: Connection, query: SearchQuery, columns: Columns | None = None
    ) -> list[QueryTerm]:
        terms = query_terms(query.text, self.synonyms())
        if any(t.typo_word for t in terms):
            stamp = None if columns is None else (columns.build, columns.seq)
            terms = self._corrected(conn, terms, stamp)
        return terms

    def count(self, query: SearchQuery | None = None) -> int:
        query = query or SearchQuery(per_page=1)
        with self.engine.connect() as conn:
            clock = _sync.clock(self, conn)
            with self._columns_lock:
                columns = self._synced(conn, clock)
                if columns is not None:
                    terms = self._terms(conn, query, columns)
                    return self._rank(conn, columns, query, terms, with_page=False)[0]
        return _sql_search.count(self, query)

    # -- the in-memory columns ------------------------------------------------------------

    def warm(self, *, background: bool = True) -> threading.Thread | None:
        """Load this process's columns and the persisted word ids now rather than on
        its first search (gunicorn.conf.py calls it in each worker). In the background,
        searches meanwhile, and after a rebuild while the new tables load, run as one SQL
        statement (_sql_search) instead of waiting for the load (30 s at a million)."""
        if not background:
            self._load()
            return None
        with self._columns_lock:
            self._background = True
            return self._start_loading()

    def _start_loading(self) -> threading.Thread:
        """(with _columns_lock held)"""
        if self._loading is None or not self._loading.is_alive():
            self._loading = threading.Thread(
                target=self._load_quietly, name=f"search-warm-{self.name}", daemon=True
            )
            self._loading.start()
        return self._loading

    def _load_quietly(self) -> None:
        try:
            started = time.perf_counter()
            self._load()
            log.info(
                "search %s: columns loaded in %.1f s", self.name, time.perf_counter() - started
            )
        except Exception:  # the next search retries; meanwhile SQL answers
            log.exception("search %s: loading the columns failed", self.name)

    def _load(self) -> None:
        """Load the columns outside the lock (searches go on), then put them in place."""
        with self.engine.connect() as conn:
            fresh = _sync.load(self, conn)
        with self._columns_lock:
            held = self._columns_held
            if held is None or held.build != fresh.build or held.seq <= fresh.seq:
                self._columns_held = fresh

    def _synced(self, conn: Connection, clock: tuple[str, int] | None) -> Columns | None:
        """This process's columns, brought up to `clock` (as they are when None); None
        while they load in the background (call with _columns_lock held)."""
        held = self._columns_held
        current = held is not None and (clock is None or held.build == clock[0])
        if current and (clock is None or held.seq >= clock[1] or self._catch_up(conn, clock)):
            return held
        # First search, a rebuild, or too far behind the log: load every row.
        if self._background:
            self._start_loading()
            return None
        self._columns_held = None
        self._columns_held = _sync.load(self, conn)
        return self._columns_held

    def _catch_up(self, conn: Connection, clock: tuple[str, int]) -> bool:
        return _sync.catch_up(self, conn, self._columns_held, clock[1])

    def _rank(self, conn, columns: Columns, query: SearchQuery, terms, with_page=True):
        """(total, page ids, facet counts) from the columns (and a word's ids from the
        inverted index the first time it is searched)."""
        kept = columns.answer(query) if not terms else None
        if kept is not None:  # the same filters since the last change
            total, counts, first = kept
            return total, first[query.offset : query.offset + query.per_page], counts
        ids = None
        if terms:
            ids, fresh = _sync.matches(self, conn, columns, terms)
            self._unsaved += fresh
        p = columns.filter(None if ids is None else columns.positions(ids), query)
        if not with_page:
            return len(p), [], {}
        counts = columns.counts(p, list(query.facets))
        if not terms and query.offset + query.per_page <= ANSWER_HITS:
            first = columns.rank(p, query, terms, ANSWER_HITS, 0)
            columns.keep_answer(query, (len(p), counts, first))
            return len(p), first[query.offset : query.offset + query.per_page], counts
        return len(p), columns.rank(p, query, terms, query.per_page, query.offset), counts

    def _answer(self, query: SearchQuery):
        """(total, page ids, facet counts, documents), or None while the columns load.

        One round trip when nothing changed: the page is ranked on the columns as they
        are, then its documents and the change clock are read in one statement; if the
        clock shows changes the columns had not seen (a write in any process), they catch
        up from the log and the page is ranked again (read-your-writes)."""
        unsaved: list[tuple] = []
        with self.engine.connect() as conn:
            clock = None
            for _ in range(REDO):
                with self._columns_lock:
                    columns = self._synced(conn, clock)
                    if columns is None:
                        return None
                    terms = self._terms(conn, query, columns)
                    total, page, counts = self._rank(conn, columns, query, terms)
                    seen = (columns.build, columns.seq)
                    unsaved += self._unsaved
                    self._unsaved = []
                clock, stored = self._page(conn, page)
                if clock[0] == seen[0] and clock[1] <= seen[1]:
                    break
        _sync.persist_words(self, unsaved)
        return total, page, counts, stored

    def _page(self, conn: Connection, ids: list[int]) -> tuple[tuple[str, int], dict[int, str]]:
        """(the change clock, the documents of ids), read in one statement."""
        names = {f"i{n}": i for n, i in enumerate(ids)}
        sql = f"SELECT NULL, NULL, build, seq FROM {self.tables.clock}"
        if ids:
            sql += (
                f" UNION ALL SELECT id, document, NULL, NULL FROM {self.tables.store}"
                f" WHERE id IN ({', '.join(':' + n for n in names)})"
            )
        clock, stored = ("", 0), {}
        for listing_id, document, build, seq in self._rows(conn, sql, names):
            if listing_id is None:
                clock = (build, int(seq))
            else:
                stored[int(listing_id)] = document
        return clock, stored

    def search(self, query: SearchQuery) -> SearchResults:
        answer = self._answer(query)
        if answer is None:  # the columns are loading
            return _sql_search.search(self, query)
        total, page, counts, stored = answer
        # a listing deleted between the match and this read has no document: left out
        page = [i for i in page if i in stored]
        documents = json.loads("[" + ",".join(stored[i] for i in page) + "]")
        return SearchResults(
            hits=[_sql_search.hit(query, i, data) for i, data in zip(page, documents, strict=True)],
            total=total,
            page=query.page,
            per_page=query.per_page,
            facets=counts,
        )

    # -- the same in one SQL statement (the engine before the columns; tests compare) --

    def _count_sql(self, query: SearchQuery | None = None) -> int:
        return _sql_search.count(self, query)

    def _search_sql(self, query: SearchQuery) -> SearchResults:
        return _sql_search.search(self, query)
