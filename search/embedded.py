"""The embedded search engine: full-text, facets and geo inside the app's own database.

SQLite: an FTS5 table over pre-tokenised text (CJK bigrams + words, see text.py) beside a
plain table of facet columns. PostgreSQL: the same terms as a weighted tsvector with a GIN
index. Geo is a bounding-box prefilter on indexed lat/lon, then the exact haversine test.
Tables are named search_<name>_* and belong to this package, not to the app's migrations."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import islice

from sqlalchemy import Engine, bindparam, create_engine, inspect, text
from sqlalchemy.engine import Connection

from .documents import (
    DEFAULT_INDEXABLE_STATUSES,
    ListingDocument,
    SearchBackendError,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from .geo import bounding_box, haversine_km, haversine_threshold
from .text import QueryTerm, index_terms, query_terms

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_STORED = (
    "id",
    "kind",
    "title",
    "description",
    "org_name",
    "prefecture",
    "municipality_code",
    "soil_class",
    "grade",
    "material",
    "category",
    "status",
    "price_per_unit",
    "unit",
    "quantity",
    "window_start",
    "window_end",
    "lat",
    "lon",
    "created_at",
)
_COLUMNS = (*_STORED, "created_ts", "content_hash")
# Secondary indexes: the facets people filter on most, price, recency and position.
_INDEXED = (
    ("kind",),
    ("category",),
    ("soil_class",),
    ("prefecture",),
    ("municipality_code",),
    ("price_per_unit",),
    ("created_ts",),
    ("lat", "lon"),
)
_BM25_WEIGHTS = "4.0, 1.0"  # title counts four times the rest
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS_PER_LEXEME = 256


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _row(document: ListingDocument) -> dict:
    row = {name: getattr(document, name) for name in _STORED}
    for key in ("window_start", "window_end", "created_at"):
        if row[key] is not None:
            row[key] = row[key].isoformat()
    row["created_ts"] = document.created_ts
    row["content_hash"] = document.content_hash()
    return row


def _document(row) -> ListingDocument:
    values = {name: row[name] for name in _STORED}
    for key in ("window_start", "window_end"):
        if values[key] is not None:
            values[key] = date.fromisoformat(values[key])
    if values["created_at"] is not None:
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    return ListingDocument(**values)


class _SqliteFts:
    """SQLite dialect: an FTS5 table keyed by listing id (its rowid)."""

    def __init__(self, docs: str, fts: str) -> None:
        self.docs, self.fts = docs, fts

    def create(self, conn: Connection, docs: str, fts: str) -> None:
        conn.execute(
            text(
                f"""CREATE TABLE {docs} (
                id INTEGER PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL,
                description TEXT NOT NULL, org_name TEXT NOT NULL, prefecture TEXT,
                municipality_code TEXT, soil_class TEXT, grade TEXT, material TEXT,
                category TEXT, status TEXT NOT NULL, price_per_unit INTEGER, unit TEXT,
                quantity REAL, window_start TEXT, window_end TEXT, lat REAL, lon REAL,
                created_at TEXT, created_ts REAL, content_hash TEXT NOT NULL)"""
            )
        )
        # 'ascii' tokenizer: our terms are already split and space-separated; it treats
        # every non-ASCII character as part of a term, so CJK bigrams stay whole.
        conn.execute(text(f"CREATE VIRTUAL TABLE {fts} USING fts5(title, body, tokenize='ascii')"))

    def tables(self, docs: str, fts: str) -> tuple[str, ...]:
        return (docs, fts)

    def insert(self, conn: Connection, docs: str, fts: str, documents: list[ListingDocument]):
        rows = [_row(d) for d in documents]
        columns = ", ".join(_COLUMNS)
        values = ", ".join(f":{c}" for c in _COLUMNS)
        conn.execute(text(f"INSERT INTO {docs} ({columns}) VALUES ({values})"), rows)
        conn.execute(
            text(f"INSERT INTO {fts} (rowid, title, body) VALUES (:id, :title, :body)"),
            [
                {
                    "id": d.id,
                    "title": " ".join(index_terms(d.title)),
                    "body": " ".join(index_terms(d.searchable_body())),
                }
                for d in documents
            ],
        )

    def delete(self, conn: Connection, ids: list[int]) -> None:
        for table, key in ((self.docs, "id"), (self.fts, "rowid")):
            conn.execute(
                text(f"DELETE FROM {table} WHERE {key} IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            )

    @staticmethod
    def match(terms: list[QueryTerm]) -> str:
        # Every term is quoted, so nothing the user typed is FTS5 syntax.
        parts = []
        for term in terms:
            phrase = '"' + " ".join(t.replace('"', '""') for t in term.terms) + '"'
            parts.append(phrase + ("*" if term.prefix else ""))
        return " AND ".join(parts)

    def text_condition(self) -> str:
        return f"d.id IN (SELECT rowid FROM {self.fts} WHERE {self.fts} MATCH :q)"

    def ranked_source(self) -> tuple[str, str, str]:
        """(join clause, score expression, order) for relevance-ranked hits."""
        join = (
            f"JOIN (SELECT rowid AS rid, bm25({self.fts}, {_BM25_WEIGHTS}) AS score "
            f"FROM {self.fts} WHERE {self.fts} MATCH :q) m ON m.rid = d.id"
        )
        return join, "m.score", "m.score ASC"  # bm25: lower is better

    def swap(self, engine: Engine, new: tuple[str, ...], live: tuple[str, ...]) -> None:
        # pysqlite runs DDL outside transactions unless told otherwise; drive the
        # connection by hand so the drop and both renames commit as one.
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

    def __init__(self, docs: str, fts: str) -> None:
        self.docs = docs

    def create(self, conn: Connection, docs: str, fts: str) -> None:
        conn.execute(
            text(
                f"""CREATE TABLE {docs} (
                id BIGINT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL,
                description TEXT NOT NULL, org_name TEXT NOT NULL, prefecture TEXT,
                municipality_code TEXT, soil_class TEXT, grade TEXT, material TEXT,
                category TEXT, status TEXT NOT NULL, price_per_unit BIGINT, unit TEXT,
                quantity DOUBLE PRECISION, window_start TEXT, window_end TEXT,
                lat DOUBLE PRECISION, lon DOUBLE PRECISION, created_at TEXT,
                created_ts DOUBLE PRECISION, content_hash TEXT NOT NULL,
                tsv TSVECTOR NOT NULL)"""
            )
        )

    def tables(self, docs: str, fts: str) -> tuple[str, ...]:
        return (docs,)

    @staticmethod
    def _quote(term: str) -> str:
        return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"

    @classmethod
    def tsvector(cls, document: ListingDocument) -> str:
        """A tsvector literal: title terms weighted A, the rest D, with real positions
        so phrases (consecutive bigrams) match, and a gap between title and body."""
        positions: dict[str, list[str]] = {}
        position = 0
        fields = (("A", index_terms(document.title)), ("", index_terms(document.searchable_body())))
        for number, (weight, terms) in enumerate(fields):
            if number:
                position += 1  # a phrase must not span title and body
            for term in terms:
                position += 1
                slots = positions.setdefault(term, [])
                if len(slots) < _PG_MAX_POSITIONS_PER_LEXEME:
                    slots.append(f"{min(position, _PG_MAX_POSITION)}{weight}")
        return " ".join(
            f"{cls._quote(term)}:{','.join(dict.fromkeys(slots))}"
            for term, slots in positions.items()
        )

    def _pg_rows(self, documents: list[ListingDocument]) -> list[dict]:
        rows = []
        for document in documents:
            row = _row(document)
            row["tsv"] = self.tsvector(document)
            rows.append(row)
        return rows

    def insert(self, conn: Connection, docs: str, fts: str, documents: list[ListingDocument]):
        columns = (*_COLUMNS, "tsv")
        names = ", ".join(columns)
        values = ", ".join(f":{c}" for c in _COLUMNS) + ", CAST(:tsv AS tsvector)"
        conn.execute(
            text(f"INSERT INTO {docs} ({names}) VALUES ({values})"), self._pg_rows(documents)
        )

    def bulk_insert(self, conn: Connection, docs: str, documents: list[ListingDocument]):
        """COPY is several times faster than INSERT for a full rebuild."""
        columns = (*_COLUMNS, "tsv")
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {docs} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in self._pg_rows(documents):
                copy.write_row([row[c] for c in columns])

    def delete(self, conn: Connection, ids: list[int]) -> None:
        conn.execute(
            text(f"DELETE FROM {self.docs} WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )

    @classmethod
    def match(cls, terms: list[QueryTerm]) -> str:
        parts = []
        for term in terms:
            quoted = [cls._quote(t) for t in term.terms]
            if term.prefix:
                quoted[-1] += ":*"
            parts.append("(" + " <-> ".join(quoted) + ")")
        return " & ".join(parts)

    def text_condition(self) -> str:
        return "d.tsv @@ CAST(:q AS tsquery)"

    def ranked_source(self) -> tuple[str, str, str]:
        score = "ts_rank(d.tsv, CAST(:q AS tsquery))"
        return "", score, f"{score} DESC"

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
        self.docs_table = f"search_{name}_docs"
        self.fts_table = f"search_{name}_fts"
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            self._sql: _SqliteFts | _PostgresFts = _SqliteFts(self.docs_table, self.fts_table)
        elif dialect == "postgresql":
            self._sql = _PostgresFts(self.docs_table, self.fts_table)
        else:
            raise ValueError(f"embedded search supports SQLite and PostgreSQL, not {dialect}")

    def __repr__(self) -> str:
        return f"EmbeddedIndex({self.engine.dialect.name}, {self.name!r})"

    # -- schema ------------------------------------------------------------------------

    def _create(self, conn: Connection, docs: str, fts: str, *, with_indexes: bool) -> None:
        self._sql.create(conn, docs, fts)
        if with_indexes:
            self._create_indexes(conn, docs)

    def _create_indexes(self, conn: Connection, docs: str) -> None:
        for columns in _INDEXED:
            conn.execute(
                text(f"CREATE INDEX ix_{docs}_{'_'.join(columns)} ON {docs} ({', '.join(columns)})")
            )
        if isinstance(self._sql, _PostgresFts):
            conn.execute(text(f"CREATE INDEX ix_{docs}_tsv ON {docs} USING GIN (tsv)"))

    def ensure(self) -> None:
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                try:
                    conn.execute(text("SELECT sin(0.5), radians(1.0), power(2, 2)"))
                except Exception as error:
                    raise SearchBackendError(
                        "this SQLite lacks math functions (needs 3.35+ built with them)"
                    ) from error
        if inspect(self.engine).has_table(self.docs_table):
            return
        with self.engine.begin() as conn:
            self._create(conn, self.docs_table, self.fts_table, with_indexes=True)

    def drop(self) -> None:
        with self.engine.begin() as conn:
            for table in self._sql.tables(self.docs_table, self.fts_table):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))

    # -- writes ------------------------------------------------------------------------

    def upsert(self, documents: Iterable[ListingDocument], *, wait: bool = True) -> int:
        indexed = 0
        for chunk in _chunks(documents, self.batch_size):
            keep = [d for d in chunk if d.status in self.indexable_statuses]
            with self.engine.begin() as conn:
                self._sql.delete(conn, sorted({d.id for d in chunk}))
                if keep:
                    # the last version of a listing in one call wins
                    latest = list({d.id: d for d in keep}.values())
                    self._sql.insert(conn, self.docs_table, self.fts_table, latest)
                    indexed += len(latest)
        return indexed

    def delete(self, ids: Iterable[int], *, wait: bool = True) -> None:
        for chunk in _chunks(ids, self.batch_size):
            with self.engine.begin() as conn:
                self._sql.delete(conn, [int(i) for i in chunk])

    def rebuild(self, documents: Iterable[ListingDocument]) -> int:
        token = secrets.token_hex(4)
        new_docs, new_fts = f"{self.docs_table}__{token}", f"{self.fts_table}__{token}"
        new = self._sql.tables(new_docs, new_fts)
        live = self._sql.tables(self.docs_table, self.fts_table)
        indexed = 0
        try:
            with self.engine.begin() as conn:
                self._create(conn, new_docs, new_fts, with_indexes=False)
            for chunk in _chunks(documents, self.batch_size * 5):
                seen: dict[int, ListingDocument] = {}
                for document in chunk:
                    if document.status in self.indexable_statuses:
                        seen[document.id] = document
                with self.engine.begin() as conn:
                    if seen and isinstance(self._sql, _PostgresFts):
                        self._sql.bulk_insert(conn, new_docs, list(seen.values()))
                    elif seen:
                        self._sql.insert(conn, new_docs, new_fts, list(seen.values()))
                indexed += len(seen)
            with self.engine.begin() as conn:
                self._create_indexes(conn, new_docs)  # faster after the load than during
                if isinstance(self._sql, _PostgresFts):
                    conn.execute(text(f"ANALYZE {new_docs}"))
            self._sql.swap(self.engine, new, live)
        except BaseException:
            with self.engine.begin() as conn:
                for table in new:
                    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            raise
        return indexed

    # -- reads -------------------------------------------------------------------------

    def fingerprints(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            result = conn.execute(text(f"SELECT id, content_hash FROM {self.docs_table}"))
            return {int(row[0]): row[1] for row in result}

    def _where(self, query: SearchQuery) -> tuple[list[str], dict, list[QueryTerm]]:
        where: list[str] = []
        params: dict = {}
        terms = query_terms(query.text)
        if terms:
            params["q"] = self._sql.match(terms)
            where.append(self._sql.text_condition())
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
            params.update(n_lat=lat, n_lon=lon, n_cos=math.cos(math.radians(lat)))
            if query.radius_km is not None:
                min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, query.radius_km)
                where.append("d.lat BETWEEN :min_lat AND :max_lat")
                params.update(min_lat=min_lat, max_lat=max_lat)
                if min_lon is not None:
                    where.append("d.lon BETWEEN :min_lon AND :max_lon")
                    params.update(min_lon=min_lon, max_lon=max_lon)
                where.append(f"{self._haversine()} <= :hav_max")
                params["hav_max"] = haversine_threshold(query.radius_km)
        return where, params, terms

    @staticmethod
    def _haversine() -> str:
        """The haversine term `a` (monotonic in distance) for the row against :n_lat/:n_lon."""
        return (
            "(power(sin(radians(d.lat - :n_lat) / 2), 2) + :n_cos * cos(radians(d.lat))"
            " * power(sin(radians(d.lon - :n_lon) / 2), 2))"
        )

    def count(self, query: SearchQuery | None = None) -> int:
        where, params, _ = self._where(query or SearchQuery())
        sql = f"SELECT count(*) FROM {self.docs_table} d"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())

    def search(self, query: SearchQuery) -> SearchResults:
        where, params, terms = self._where(query)
        where_sql = (" WHERE " + " AND ".join(where)) if where else ""

        # Total and facet counts from one pass over the matching set.
        facet_cols = ", ".join(f"d.{f}" for f in query.facets) or "d.id"
        counts_sql = (
            f"WITH h AS MATERIALIZED (SELECT {facet_cols} FROM {self.docs_table} d{where_sql}) "
            "SELECT CAST(NULL AS TEXT) AS facet, CAST(NULL AS TEXT) AS value, count(*) AS n FROM h"
        )
        for facet in query.facets:
            counts_sql += (
                f" UNION ALL SELECT '{facet}', {facet}, count(*) FROM h"
                f" WHERE {facet} IS NOT NULL GROUP BY {facet}"
            )

        join, score, order = "", "NULL", ""
        sort = query.sort
        hit_where = list(where)
        if sort == "relevance" and terms:
            join, score, order = self._sql.ranked_source()
            if join:  # the join already restricts to matches
                hit_where.remove(self._sql.text_condition())
            order += ", d.id"
        elif sort == "distance":
            order = f"(d.lat IS NULL), {self._haversine()}, d.id"
        elif sort == "price_asc":
            order = "(d.price_per_unit IS NULL), d.price_per_unit ASC, d.id"
        elif sort == "price_desc":
            order = "(d.price_per_unit IS NULL), d.price_per_unit DESC, d.id"
        else:  # newest, and relevance without text
            order = "(d.created_ts IS NULL), d.created_ts DESC, d.id DESC"
        columns = ", ".join(f"d.{c}" for c in _STORED)
        hits_sql = f"SELECT {columns}, {score} AS score FROM {self.docs_table} d {join}"
        if hit_where:
            hits_sql += " WHERE " + " AND ".join(hit_where)
        hits_sql += f" ORDER BY {order} LIMIT :limit OFFSET :offset"

        with self.engine.connect() as conn:
            total = 0
            facets: dict[str, dict[str, int]] = {f: {} for f in query.facets}
            for facet, value, n in conn.execute(text(counts_sql), params):
                if facet is None:
                    total = int(n)
                else:
                    facets[facet][value] = int(n)
            rows = (
                conn.execute(
                    text(hits_sql), {**params, "limit": query.per_page, "offset": query.offset}
                )
                .mappings()
                .all()
                if total > query.offset
                else []
            )
        hits = []
        for row in rows:
            document = _document(row)
            distance = None
            if query.near is not None and document.lat is not None and document.lon is not None:
                distance = haversine_km(*query.near, document.lat, document.lon)
            score_value = row["score"]
            hits.append(
                SearchHit(
                    id=document.id,
                    document=document,
                    distance_km=distance,
                    score=None if score_value is None else float(score_value),
                )
            )
        for facet in facets:  # most frequent first, like Meilisearch's count sort
            facets[facet] = dict(sorted(facets[facet].items(), key=lambda kv: (-kv[1], kv[0])))
        return SearchResults(
            hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets
        )
