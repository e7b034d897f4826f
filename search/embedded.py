"""The embedded search engine: full-text, facets and geo inside the app's own database.

SQLite: an FTS5 table over pre-tokenised text (CJK bigrams + words, see text.py) beside a
plain table of facet columns. PostgreSQL: the same terms as a weighted tsvector with a GIN
index. Geo is a bounding-box prefilter on indexed lat/lon, then the exact haversine test.
Tables are named search_<name>_* and belong to this package, not to the app's migrations."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice

from sqlalchemy import Engine, bindparam, create_engine, inspect, text
from sqlalchemy.engine import Connection

from .documents import (
    DEFAULT_INDEXABLE_STATUSES,
    ListingDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
    json_and_hash,
)
from .geo import bounding_box, chord_threshold, haversine_km, unit_vector
from .tags import cluster_key, covering_cells, document_tags, facet_tag
from .text import QueryTerm, index_terms, normalise, query_terms

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_PG_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
# Narrow rows the filters and sorts read; the full public document lives in a
# separate store table and is fetched only for the page being shown.
_KEYS = (
    "id",
    "title_norm",
    "kind",
    "soil_class",
    "grade",
    "material",
    "category",
    "prefecture",
    "municipality_code",
    "status",
    "unit",
    "price_per_unit",
    "window_start",
    "window_end",
    "lat",
    "lon",
    "cx",
    "cy",
    "cz",
    "created_ts",
    "content_hash",
)
_KEY_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "int": "INTEGER", "real": "REAL"},
    "postgresql": {"id": "BIGINT PRIMARY KEY", "int": "BIGINT", "real": "DOUBLE PRECISION"},
}
# Secondary indexes: the facets people filter on most, price, recency and position.
_INDEXED = (
    ("kind",),
    ("category",),
    ("prefecture",),
    ("price_per_unit",),
    ("created_ts",),
    ("lat", "lon"),
)
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS_PER_LEXEME = 256


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


_DERIVED = ("title_norm", "cx", "cy", "cz", "created_ts", "content_hash")
_PLAIN_KEYS = tuple(k for k in _KEYS if k not in _DERIVED)
_CLUSTERED_IDS = 1 << 32


def row_key(document: ListingDocument) -> int:
    """SQLite rowid of a listing: its grid cell in Z-order above its id, so the rows
    (and FTS5 postings) of one area sit together and a radius query reads few pages.
    Ids outside 0..2**32 are not clustered (negative rowids, still unique)."""
    if 0 <= document.id < _CLUSTERED_IDS:
        return (cluster_key(document.lat, document.lon) << 32) | document.id
    return document.id if document.id < 0 else -document.id


def _prepared(document: ListingDocument) -> tuple[dict, str]:
    """(narrow key row, stored JSON) for one document, serialising it only once."""
    data, content_hash = json_and_hash(document)
    row = {name: data[name] for name in _PLAIN_KEYS}  # dates already ISO strings
    row["title_norm"] = normalise(document.title)
    if document.lat is not None and document.lon is not None:
        row["cx"], row["cy"], row["cz"] = unit_vector(document.lat, document.lon)
    else:
        row["cx"] = row["cy"] = row["cz"] = None
    row["created_ts"] = document.created_ts
    row["content_hash"] = content_hash
    return row, json.dumps(data, ensure_ascii=False)


def _keys_ddl(dialect: str, table: str, extra: str = "", first: str = "") -> str:
    types = _KEY_TYPES[dialect]
    return f"""CREATE TABLE {table} (
        {first}id {types["id"] if not first else types["int"] + " NOT NULL UNIQUE"}, title_norm TEXT NOT NULL, kind TEXT NOT NULL, soil_class TEXT, grade TEXT, material TEXT,
        category TEXT, prefecture TEXT, municipality_code TEXT, status TEXT NOT NULL,
        unit TEXT, price_per_unit {types["int"]}, window_start TEXT, window_end TEXT,
        lat {types["real"]}, lon {types["real"]}, cx {types["real"]}, cy {types["real"]},
        cz {types["real"]}, created_ts {types["real"]},
        content_hash TEXT NOT NULL{extra})"""


def _insert_sql(table: str, columns: Sequence[str], casts: Mapping[str, str] = {}) -> str:
    values = ", ".join(f"CAST(:{c} AS {casts[c]})" if c in casts else f":{c}" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


class _Tables:
    """The names of one generation of an index's tables (live, or being rebuilt)."""

    def __init__(self, name: str, suffix: str = "") -> None:
        self.keys = f"search_{name}_docs{suffix}"
        self.store = f"search_{name}_store{suffix}"
        self.fts = f"search_{name}_fts{suffix}"


class _SqliteFts:
    """SQLite dialect: an FTS5 table keyed by the key rows' rid (see row_key)."""

    dialect = "sqlite"
    layout_columns = ("rid",)

    def all(self, t: _Tables) -> tuple[str, ...]:
        return (t.keys, t.store, t.fts)

    def create(self, conn: Connection, t: _Tables) -> None:
        # rid (the rowid) clusters rows by place, see row_key(); id is the listing's id.
        conn.execute(text(_keys_ddl(self.dialect, t.keys, "", "rid INTEGER PRIMARY KEY, ")))
        conn.execute(text(f"CREATE TABLE {t.store} (id INTEGER PRIMARY KEY, document TEXT)"))
        # 'ascii' tokenizer: our terms are already split and space-separated; it treats
        # every non-ASCII character as part of a term, so CJK bigrams stay whole.
        conn.execute(
            text(f"CREATE VIRTUAL TABLE {t.fts} USING fts5(title, body, tags, tokenize='ascii')")
        )

    def insert(
        self,
        conn: Connection,
        t: _Tables,
        documents: list[ListingDocument],
        keys_table: str | None = None,
    ) -> None:
        """Plain DB-API executemany with tuples: no per-row parameter processing."""
        keys, stored, fts = [], [], []
        for d in documents:
            row, document = _prepared(d)
            rid = row_key(d)
            keys.append((rid, *(row[c] for c in _KEYS)))
            stored.append((d.id, document))
            fts.append(
                (
                    rid,
                    " ".join(index_terms(d.title)),
                    " ".join(index_terms(d.searchable_body())),
                    " ".join(document_tags(d)),
                )
            )
        cursor = conn.connection.driver_connection.cursor()
        marks = ", ".join("?" * (len(_KEYS) + 1))
        cursor.executemany(
            f"INSERT INTO {keys_table or t.keys} (rid, {', '.join(_KEYS)}) VALUES ({marks})", keys
        )
        cursor.executemany(f"INSERT INTO {t.store} (id, document) VALUES (?, ?)", stored)
        cursor.executemany(
            f"INSERT INTO {t.fts} (rowid, title, body, tags) VALUES (?, ?, ?, ?)", fts
        )

    def begin_load(self, conn: Connection, t: _Tables) -> None:
        """A rebuild loads key rows into an unindexed stage table (copied in rowid order
        at the end, so pages are full and neighbours adjacent) and lets FTS5 skip its
        incremental merges (one 'optimize' at the end leaves a single segment, which
        halves the cost of a match)."""
        conn.execute(text(f"CREATE TABLE {t.keys}_stage AS SELECT * FROM {t.keys} WHERE 0"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 0)"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('crisismerge', 64)"))

    def bulk_insert(self, conn: Connection, t: _Tables, documents: list[ListingDocument]):
        self.insert(conn, t, documents, keys_table=f"{t.keys}_stage")

    def finish_load(self, conn: Connection, t: _Tables) -> None:
        conn.execute(text(f"INSERT INTO {t.keys} SELECT * FROM {t.keys}_stage ORDER BY rid"))
        conn.execute(text(f"DROP TABLE {t.keys}_stage"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}) VALUES ('optimize')"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 4)"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('crisismerge', 16)"))

    def leftovers(self, t: _Tables) -> tuple[str, ...]:
        return (f"{t.keys}_stage",)

    def delete(self, conn: Connection, t: _Tables, ids: list[int]) -> None:
        expanding = bindparam("ids", expanding=True)
        conn.execute(
            text(
                f"DELETE FROM {t.fts} WHERE rowid IN (SELECT rid FROM {t.keys} WHERE id IN :ids)"
            ).bindparams(expanding),
            {"ids": ids},
        )
        for table in (t.keys, t.store):
            conn.execute(
                text(f"DELETE FROM {table} WHERE id IN :ids").bindparams(expanding), {"ids": ids}
            )

    @staticmethod
    def match(terms: list[QueryTerm], tag_groups: list[list[str]]) -> dict[str, str]:
        """The :q parameter of candidates(). Every term is quoted, so nothing the user
        typed is FTS5 syntax."""
        parts = []
        for term in terms:
            phrase = '"' + " ".join(t.replace('"', '""') for t in term.terms) + '"'
            parts.append("{title body} : " + phrase + ("*" if term.prefix else ""))
        for group in tag_groups:
            parts.append("tags : (" + " OR ".join(f'"{tag}"' for tag in group) + ")")
        return {"q": " AND ".join(parts)}

    def candidates(self, t: _Tables, params: Mapping) -> str:
        """FROM clause restricted to index matches. CROSS JOIN makes SQLite loop over
        the matches and look rows up by id; left to itself it may walk a facet index and
        run one FTS probe per row."""
        return (
            f"(SELECT rowid AS rid FROM {t.fts} WHERE {t.fts} MATCH :q) m"
            f" CROSS JOIN {t.keys} d ON d.rid = m.rid"
        )

    def swap(self, engine: Engine, new: tuple[str, ...], live: tuple[str, ...]) -> None:
        # pysqlite runs DDL outside transactions unless told otherwise; drive the
        # connection by hand so the drops and the renames commit as one.
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            previous = raw.isolation_level
            raw.isolation_level = None
            try:
                cursor = raw.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    for table in live:
                        cursor.execute(f"DROP TABLE IF EXISTS {table}")
                    for old_name, new_name in zip(new, live, strict=True):
                        cursor.execute(f"ALTER TABLE {old_name} RENAME TO {new_name}")
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            finally:
                raw.isolation_level = previous


class _PostgresFts:
    """PostgreSQL dialect: the same terms stored as a weighted tsvector under GIN."""

    dialect = "postgresql"
    layout_columns = ("tsv",)

    def all(self, t: _Tables) -> tuple[str, ...]:
        return (t.keys, t.store)

    def create(self, conn: Connection, t: _Tables) -> None:
        conn.execute(text(_keys_ddl(self.dialect, t.keys, ", tsv TSVECTOR NOT NULL")))
        conn.execute(text(f"CREATE TABLE {t.store} (id BIGINT PRIMARY KEY, document TEXT)"))

    @staticmethod
    def _quote(term: str) -> str:
        return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"

    @classmethod
    def tsvector(cls, document: ListingDocument) -> str:
        """A tsvector literal: title terms weighted A, the rest D, with real positions
        so phrases (consecutive bigrams) match, and gaps between title, body and tags.
        (Written for speed: it is most of a PostgreSQL rebuild's Python time.)"""
        title = index_terms(document.title)
        positions: dict[str, list[int]] = {}
        position = 0
        for number, terms in enumerate(
            (title, index_terms(document.searchable_body()), document_tags(document))
        ):
            if number:
                position += 1  # a phrase must not span two fields
            for term in terms:
                position += 1
                slots = positions.get(term)
                if slots is None:
                    positions[term] = [position]
                elif len(slots) < _PG_MAX_POSITIONS_PER_LEXEME:
                    slots.append(position)
        title_end = len(title)
        capped = position > _PG_MAX_POSITION
        parts = []
        for term, slots in positions.items():
            quoted = cls._quote(term) if "'" in term or "\\" in term else f"'{term}'"
            if not capped and len(slots) == 1:  # the usual case
                at = slots[0]
                parts.append(f"{quoted}:{at}A" if at <= title_end else f"{quoted}:{at}")
                continue
            texts = [
                f"{min(p, _PG_MAX_POSITION)}A" if p <= title_end else str(min(p, _PG_MAX_POSITION))
                for p in slots
            ]
            if capped:
                texts = list(dict.fromkeys(texts))
            parts.append(f"{quoted}:{','.join(texts)}")
        return " ".join(parts)

    def insert(self, conn: Connection, t: _Tables, documents: list[ListingDocument]) -> None:
        keys, stored = [], []
        for document in documents:
            row, json_text = _prepared(document)
            keys.append({**row, "tsv": self.tsvector(document)})
            stored.append({"id": document.id, "document": json_text})
        conn.execute(text(_insert_sql(t.keys, (*_KEYS, "tsv"), {"tsv": "tsvector"})), keys)
        conn.execute(text(_insert_sql(t.store, ("id", "document"))), stored)

    def bulk_insert(self, conn: Connection, t: _Tables, documents: list[ListingDocument]):
        """COPY is several times faster than INSERT for a full rebuild. (Loading in place
        order, as on SQLite, was measured and does not help here: with its ~1 KB tsvector
        a row fills 1/6 of a heap block, so candidates rarely share blocks anyway.)"""
        cursor = conn.connection.driver_connection.cursor()
        columns = (*_KEYS, "tsv")
        stored = []
        with cursor.copy(f"COPY {t.keys} ({', '.join(columns)}) FROM STDIN") as copy:
            for document in documents:
                row, json_text = _prepared(document)
                row["tsv"] = self.tsvector(document)
                copy.write_row([row[c] for c in columns])
                stored.append((document.id, json_text))
        with cursor.copy(f"COPY {t.store} (id, document) FROM STDIN") as copy:
            for row in stored:
                copy.write_row(row)

    def begin_load(self, conn: Connection, t: _Tables) -> None:
        pass

    def finish_load(self, conn: Connection, t: _Tables) -> None:
        pass

    def leftovers(self, t: _Tables) -> tuple[str, ...]:
        return ()

    def delete(self, conn: Connection, t: _Tables, ids: list[int]) -> None:
        for table in (t.keys, t.store):
            conn.execute(
                text(f"DELETE FROM {table} WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            )

    @classmethod
    def match(cls, terms: list[QueryTerm], tag_groups: list[list[str]]) -> dict[str, str]:
        """The words and the tags as two tsqueries, so the GIN scan has two keys. In one
        tsquery, GIN drives the scan from its rarest entries, the cells of the OR group,
        and reads their whole union; with two keys each advances only to the other's
        next item (text+facet+geo searches 13-20% faster, GIN scan of one 4.5 -> 1.4 ms)."""
        words = []
        for term in terms:
            quoted = [cls._quote(t) for t in term.terms]
            if term.prefix:
                quoted[-1] += ":*"
            words.append("(" + " <-> ".join(quoted) + ")")
        tags = ["(" + " | ".join(cls._quote(tag) for tag in group) + ")" for group in tag_groups]
        parts = {"q_words": " & ".join(words), "q_tags": " & ".join(tags)}
        return {name: tsquery for name, tsquery in parts.items() if tsquery}

    def candidates(self, t: _Tables, params: Mapping) -> str:
        """The GIN matches alone (OFFSET 0 keeps the other conditions out): left to
        itself, the planner misjudges the tsquery and ANDs its bitmap with a lat/lon or
        facet index that matches tens of thousands of rows."""
        matches = " AND ".join(
            f"tsv @@ CAST(:{name} AS tsquery)" for name in ("q_words", "q_tags") if name in params
        )
        return f"(SELECT {', '.join(_KEYS)} FROM {t.keys} WHERE {matches} OFFSET 0) d"

    def swap(self, engine: Engine, new: tuple[str, ...], live: tuple[str, ...]) -> None:
        with engine.begin() as conn:  # PostgreSQL DDL is transactional
            for table in live:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            for old_name, new_name in zip(new, live, strict=True):
                conn.execute(text(f"ALTER TABLE {old_name} RENAME TO {new_name}"))


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
        self.tables = _Tables(name)
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            self._sql: _SqliteFts | _PostgresFts = _SqliteFts()
        elif dialect == "postgresql":
            self._sql = _PostgresFts()
        else:
            raise ValueError(f"embedded search supports SQLite and PostgreSQL, not {dialect}")

    def __repr__(self) -> str:
        return f"EmbeddedIndex({self.engine.dialect.name}, {self.name!r})"

    @property
    def docs_table(self) -> str:
        return self.tables.keys

    # -- schema ------------------------------------------------------------------------

    def _create_indexes(self, conn: Connection, t: _Tables) -> None:
        for columns in _INDEXED:
            conn.execute(
                text(
                    f"CREATE INDEX ix_{t.keys}_{'_'.join(columns)} ON {t.keys} ({', '.join(columns)})"
                )
            )
        if isinstance(self._sql, _PostgresFts):
            # fastupdate off: upserts go straight into the tree, so searches never
            # scan a pending list
            conn.execute(
                text(
                    f"CREATE INDEX ix_{t.keys}_tsv ON {t.keys} USING GIN (tsv)"
                    " WITH (fastupdate = off)"
                )
            )

    def ensure(self) -> None:
        inspector = inspect(self.engine)
        if inspector.has_table(self.tables.keys):
            columns = {column["name"] for column in inspector.get_columns(self.tables.keys)}
            if {"cx", *self._sql.layout_columns} <= columns:
                return
            self._migrate()  # tables of an older layout: rebuilt from their own store
            return
        with self.engine.begin() as conn:
            self._sql.create(conn, self.tables)
            self._create_indexes(conn, self.tables)

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
            for table in self._sql.all(self.tables):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))

    # -- writes ------------------------------------------------------------------------

    def upsert(self, documents: Iterable[ListingDocument], *, wait: bool = True) -> int:
        indexed = 0
        for chunk in _chunks(documents, self.batch_size):
            latest = {d.id: d for d in chunk}  # the last version in one call wins
            keep = [d for d in latest.values() if d.status in self.indexable_statuses]
            with self.engine.begin() as conn:
                self._sql.delete(conn, self.tables, sorted(latest))
                if keep:
                    self._sql.insert(conn, self.tables, keep)
            indexed += len(keep)
        return indexed

    def delete(self, ids: Iterable[int], *, wait: bool = True) -> None:
        for chunk in _chunks(ids, self.batch_size):
            with self.engine.begin() as conn:
                self._sql.delete(conn, self.tables, [int(i) for i in chunk])

    def rebuild(self, documents: Iterable[ListingDocument]) -> int:
        """Load a new generation of tables beside the live ones, index them, then drop
        the old and rename the new in one transaction: readers never see a gap."""
        fresh = _Tables(self.name, f"__{secrets.token_hex(4)}")
        indexed = 0
        try:
            with self.engine.begin() as conn:
                self._sql.create(conn, fresh)
                self._sql.begin_load(conn, fresh)
            for chunk in _chunks(documents, self.batch_size * 5):
                latest = {d.id: d for d in chunk if d.status in self.indexable_statuses}
                if latest:
                    with self.engine.begin() as conn:
                        self._sql.bulk_insert(conn, fresh, list(latest.values()))
                indexed += len(latest)
            with self.engine.begin() as conn:
                self._sql.finish_load(conn, fresh)
                self._create_indexes(conn, fresh)  # faster after the load than during
                if isinstance(self._sql, _PostgresFts):
                    conn.execute(text(f"ANALYZE {fresh.keys}"))
            self._sql.swap(self.engine, self._sql.all(fresh), self._sql.all(self.tables))
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

    def _where(self, query: SearchQuery) -> tuple[list[str], dict, bool]:
        """(exact conditions on the keys table (alias d), params, narrowed): narrowed
        when text, facet filters or a radius give the inverted index something to match
        (its query goes into params)."""
        where: list[str] = []
        params: dict = {}
        terms = query_terms(query.text)
        tag_groups = [
            [facet_tag(facet, value) for value in values] for facet, values in query.filters.items()
        ]
        if query.near is not None and query.radius_km is not None:
            cells = covering_cells(*query.near, query.radius_km)
            if cells:
                tag_groups.append(cells)
        narrowed = bool(terms or tag_groups)
        if narrowed:
            params.update(self._sql.match(terms, tag_groups))
        for facet, values in query.filters.items():
            names = []
            for position, value in enumerate(values):
                params[f"f_{facet}_{position}"] = value
                names.append(f":f_{facet}_{position}")
            where.append(f"d.{facet} IN ({', '.join(names)})")
        if query.price_min is not None:
            where.append("d.price_per_unit >= :price_min")
            params["price_min"] = query.price_min
        if query.price_max is not None:
            where.append("d.price_per_unit <= :price_max")
            params["price_max"] = query.price_max
        # A listing without a window bound is open-ended on that side.
        if query.window_to is not None:
            where.append("(d.window_start IS NULL OR d.window_start <= :window_to)")
            params["window_to"] = query.window_to.isoformat()
        if query.window_from is not None:
            where.append("(d.window_end IS NULL OR d.window_end >= :window_from)")
            params["window_from"] = query.window_from.isoformat()
        if query.near is not None:
            lat, lon = query.near
            params.update(zip(("n_x", "n_y", "n_z"), unit_vector(lat, lon), strict=True))
            if query.radius_km is not None:
                min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, query.radius_km)
                where.append("d.lat BETWEEN :min_lat AND :max_lat")
                params.update(min_lat=min_lat, max_lat=max_lat)
                if min_lon is not None:
                    where.append("d.lon BETWEEN :min_lon AND :max_lon")
                    params.update(min_lon=min_lon, max_lon=max_lon)
                where.append(f"{self._chord()} <= :chord_max")
                params["chord_max"] = chord_threshold(query.radius_km)
        return where, params, narrowed

    @staticmethod
    def _chord() -> str:
        """Squared chord from the query point to the row (4 x the haversine term, so
        monotonic in distance): arithmetic only, ~3x cheaper than sin/cos per row."""
        return (
            "((d.cx - :n_x) * (d.cx - :n_x) + (d.cy - :n_y) * (d.cy - :n_y)"
            " + (d.cz - :n_z) * (d.cz - :n_z))"
        )

    def _source(self, query: SearchQuery) -> tuple[str, list[str], dict, bool]:
        """(FROM clause, WHERE terms, params, narrowed by the inverted index)."""
        where, params, narrowed = self._where(query)
        if not narrowed:
            return f"{self.tables.keys} d", where, params, False
        return self._sql.candidates(self.tables, params), where, params, True

    def count(self, query: SearchQuery | None = None) -> int:
        source, where, params, _ = self._source(query or SearchQuery())
        sql = f"SELECT count(*) FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.engine.connect() as conn:
            return int(self._rows(conn, sql, params)[0][0])

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

    def _order(self, query: SearchQuery, params: dict) -> list[tuple[str, str]]:
        """(expression, direction) sort keys, always ending in a unique tie-break.

        Relevance, given that every word must match anyway: listings with all the words
        in the title first (Meilisearch's "attribute" rule), then the nearest when the
        query has a point, else the newest. BM25 was tried and cost ~15 µs per
        candidate, most of a query's time, for little change in order on short listings."""
        nearest = [("(d.lat IS NULL)", "ASC"), (self._chord(), "ASC"), ("d.id", "ASC")]
        newest = [("(d.created_ts IS NULL)", "ASC"), ("d.created_ts", "DESC"), ("d.id", "DESC")]
        if query.sort == "relevance":
            words = []
            for number, term in enumerate(query_terms(query.text)):
                params[f"t_{number}"] = (
                    "%" + term.terms[0] + "".join(t[-1] for t in term.terms[1:]) + "%"
                )
                words.append(f"d.title_norm LIKE :t_{number}")
            then = nearest if query.near is not None else newest
            if not words:
                return then
            return [(f"(CASE WHEN {' AND '.join(words)} THEN 0 ELSE 1 END)", "ASC"), *then]
        if query.sort == "distance":
            return nearest
        if query.sort == "price_asc":
            return [("(d.price_per_unit IS NULL)", "ASC"), ("d.price_per_unit", "ASC"),
                    ("d.id", "ASC")]  # fmt: skip
        if query.sort == "price_desc":
            return [("(d.price_per_unit IS NULL)", "ASC"), ("d.price_per_unit", "DESC"),
                    ("d.id", "ASC")]  # fmt: skip
        return newest

    def search(self, query: SearchQuery) -> SearchResults:
        source, where, params, narrowed = self._source(query)
        where_sql = (" WHERE " + " AND ".join(where)) if where else ""
        order = self._order(query, params)
        params = {**params, "limit": query.per_page, "offset": query.offset}

        facets = list(query.facets)
        # explicit types: PostgreSQL cannot type a UNION of bare NULLs and numbers
        blanks = "".join(", CAST(NULL AS TEXT)" for _ in facets)
        if narrowed:
            # Narrowed by the inverted index: read the candidates once into a
            # materialised set, then take the page and the counts from it.
            keys = [f"s{n}" for n in range(len(order))]
            columns = ", ".join(
                ["d.id AS id"]
                + [f"d.{facet} AS {facet}" for facet in facets]
                + [f"{expr} AS {key}" for (expr, _), key in zip(order, keys, strict=True)]
            )
            by = ", ".join(f"{key} {way}" for key, (_, way) in zip(keys, order, strict=True))
            head = f"WITH h AS MATERIALIZED (SELECT {columns} FROM {source}{where_sql}) "
            page_sql = f"SELECT id FROM h ORDER BY {by}"
            counted = "h"
        else:
            # Nothing to narrow with: let the database walk its indexes in sort order.
            by = ", ".join(f"{expr} {way}" for expr, way in order)
            head = ""
            page_sql = f"SELECT d.id AS id FROM {source}{where_sql} ORDER BY {by}"
            counted = f"{source}{where_sql}"
            if facets:
                picked = ", ".join(f"d.{f} AS {f}" for f in facets)
                head = f"WITH h AS MATERIALIZED (SELECT {picked} FROM {counted}) "
                counted = "h"
        # One GROUP BY over all requested facets gives every facet's counts and the total
        # (summed below), instead of one sort per facet.
        group = ", ".join(facets)
        count_sql = (
            f"SELECT 'count', CAST(NULL AS BIGINT){(', ' + group) if facets else ''},"
            f" count(*), CAST(NULL AS TEXT) FROM {counted}"
        )
        if facets:
            count_sql += f" GROUP BY {group}"
        # The page's documents come in the same statement (one round trip, one snapshot:
        # a listing deleted meanwhile cannot leave a hit without its document).
        sql = (
            f"{head}SELECT 'hit', page.id{blanks}, CAST(NULL AS BIGINT),"
            f" (SELECT s.document FROM {self.tables.store} s WHERE s.id = page.id)"
            f" FROM ({page_sql} LIMIT :limit OFFSET :offset) AS page"
            f" UNION ALL {count_sql}"
        )

        page: list[int] = []
        stored: list[str] = []
        total = 0
        counts: dict[str, dict[str, int]] = {f: {} for f in facets}
        with self.engine.connect() as conn:
            rows = self._rows(conn, sql, params)
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
