"""SQLite dialect of the embedded engine: an FTS5 table over pre-split terms, keyed by
the key rows' rid (see _schema.row_key)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.engine import Connection

from ._schema import KEYS, Prepared, Tables, keys_ddl, row_key
from .text import HEAD, READING, Phrase, QueryTerm

_COLUMNS = {"text": "{title body}", READING: "reading", HEAD: "head"}


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteFts:
    dialect = "sqlite"

    def all(self, t: Tables) -> tuple[str, ...]:
        return (t.keys, t.store, t.fts, t.lexicon)

    def create(self, conn: Connection, t: Tables) -> None:
        # rid (the rowid) clusters rows by place, see row_key(); id is the listing's id.
        conn.execute(text(keys_ddl(self.dialect, t.keys, "", "rid INTEGER PRIMARY KEY, ")))
        conn.execute(text(f"CREATE TABLE {t.store} (id INTEGER PRIMARY KEY, document TEXT)"))
        # 'ascii' tokenizer: our terms are already split and space-separated; it treats
        # every non-ASCII character as part of a term, so CJK bigrams stay whole.
        conn.execute(
            text(
                f"CREATE VIRTUAL TABLE {t.fts} USING fts5(title, body, reading, head, tags,"
                " tokenize='ascii')"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {t.lexicon} (key TEXT NOT NULL, word TEXT NOT NULL,"
                " PRIMARY KEY (key, word)) WITHOUT ROWID"
            )
        )

    @contextlib.contextmanager
    def schema_transaction(self, engine: Engine, t: Tables) -> Iterator[Connection]:
        """A transaction that holds the database's write lock from its start, so that two
        processes ensuring the index at once do not both find it missing and create it.
        (pysqlite runs DDL outside transactions unless told otherwise, as in swap().)"""
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            previous = raw.isolation_level
            raw.isolation_level = None
            try:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                raw.execute("COMMIT")
            finally:
                raw.isolation_level = previous

    def create_settings(self, conn: Connection, t: Tables) -> None:
        conn.execute(
            text(f"CREATE TABLE IF NOT EXISTS {t.settings} (key TEXT PRIMARY KEY, value TEXT)")
        )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {t.versions}"
                " (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {t.log}"
                " (seq BIGINT NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (seq, id))"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {t.clock}"
                " (one INTEGER PRIMARY KEY CHECK (one = 1), build TEXT NOT NULL,"
                " seq BIGINT NOT NULL)"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {t.words} (key TEXT PRIMARY KEY,"
                " build TEXT NOT NULL, seq BIGINT NOT NULL, ids BLOB NOT NULL)"
            )
        )

    def insert(
        self, conn: Connection, t: Tables, rows: list[Prepared], keys_table: str | None = None
    ) -> None:
        """Plain DB-API executemany with tuples: no per-row parameter processing."""
        keys, stored, fts = [], [], []
        for p in rows:
            rid = row_key(p.document)
            keys.append((rid, *(p.row[c] for c in KEYS)))
            stored.append((p.document.id, p.stored))
            title, body = p.text_terms()
            fts.append(
                (
                    rid,
                    " ".join(title),
                    " ".join(body),
                    " ".join(p.reading_terms()),
                    " ".join(p.head_terms()),
                    " ".join(p.tags()),
                )
            )
        cursor = conn.connection.driver_connection.cursor()
        marks = ", ".join("?" * (len(KEYS) + 1))
        cursor.executemany(
            f"INSERT INTO {keys_table or t.keys} (rid, {', '.join(KEYS)}) VALUES ({marks})", keys
        )
        cursor.executemany(f"INSERT INTO {t.store} (id, document) VALUES (?, ?)", stored)
        cursor.executemany(
            f"INSERT INTO {t.fts} (rowid, title, body, reading, head, tags)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            fts,
        )

    def add_words(self, conn: Connection, t: Tables, rows: list[tuple[str, str]]) -> None:
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(f"INSERT OR IGNORE INTO {t.lexicon} (key, word) VALUES (?, ?)", rows)

    def begin_load(self, conn: Connection, t: Tables) -> None:
        """A rebuild loads key rows into an unindexed stage table (copied in rowid order
        at the end, so pages are full and neighbours adjacent) and lets FTS5 skip its
        incremental merges (one 'optimize' at the end leaves a single segment, which
        halves the cost of a match)."""
        conn.execute(text(f"CREATE TABLE {t.keys}_stage AS SELECT * FROM {t.keys} WHERE 0"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 0)"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('crisismerge', 64)"))

    def bulk_insert(self, conn: Connection, t: Tables, rows: list[Prepared]) -> None:
        self.insert(conn, t, rows, keys_table=f"{t.keys}_stage")

    def finish_load(self, conn: Connection, t: Tables) -> None:
        conn.execute(text(f"INSERT INTO {t.keys} SELECT * FROM {t.keys}_stage ORDER BY rid"))
        conn.execute(text(f"DROP TABLE {t.keys}_stage"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}) VALUES ('optimize')"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 4)"))
        conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('crisismerge', 16)"))

    def leftovers(self, t: Tables) -> tuple[str, ...]:
        return (f"{t.keys}_stage",)

    def delete(self, conn: Connection, t: Tables, ids: list[int]) -> None:
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
    def _phrase(phrase: Phrase) -> str:
        quoted = '"' + " ".join(t.replace('"', '""') for t in phrase.terms) + '"'
        return f"{_COLUMNS[phrase.field]} : {quoted}{'*' if phrase.prefix else ''}"

    @classmethod
    def match(cls, terms: list[QueryTerm], tag_groups: list[list[str]]) -> dict[str, str]:
        """The :q parameter of candidates(). Every term is quoted, so nothing the user
        typed is FTS5 syntax."""
        parts = []
        for term in terms:
            options = [
                "(" + " AND ".join(cls._phrase(p) for p in option) + ")" for option in term.options
            ]
            parts.append("(" + " OR ".join(options) + ")")
        for group in tag_groups:
            parts.append("tags : (" + " OR ".join(_quoted(tag) for tag in group) + ")")
        return {"q": " AND ".join(parts)}

    def candidates(self, t: Tables, params: Mapping) -> str:
        """FROM clause restricted to index matches. CROSS JOIN makes SQLite loop over
        the matches and look rows up by id; left to itself it may walk a facet index and
        run one FTS probe per row."""
        return (
            f"(SELECT rowid AS rid FROM {t.fts} WHERE {t.fts} MATCH :q) m"
            f" CROSS JOIN {t.keys} d ON d.rid = m.rid"
        )

    def swap(
        self, engine: Engine, new: tuple[str, ...], live: tuple[str, ...], then: str = ""
    ) -> None:
        """Drop the live tables and rename the new ones to them, then run `then` (a
        statement without parameters), all in one transaction.

        pysqlite runs DDL outside transactions unless told otherwise: the connection is
        driven by hand so that the drops and the renames commit as one."""
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
                    if then:
                        cursor.execute(then)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            finally:
                raw.isolation_level = previous
