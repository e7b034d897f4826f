"""A process's columns and word ids kept in step with the index: loaded once (with the
word ids other processes wrote to search_<name>_words), then brought up to the last
change from the change log (see EmbeddedIndex._log_changes). `index` is the
EmbeddedIndex: its tables, dialect and reads."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from . import _words
from ._columns import COLUMNS, Columns
from ._schema import chunks
from .text import QueryTerm

log = logging.getLogger(__name__)
_LOCK_WAIT_MS = 200  # SQLite: how long a search waits to write a word's ids


def clock(index, conn: Connection) -> tuple[str, int]:
    rows = index._rows(conn, f"SELECT build, seq FROM {index.tables.clock}", {})
    return (rows[0][0], int(rows[0][1])) if rows else ("", 0)


def load(index, conn: Connection) -> Columns:
    """Every key row of the live build, and the persisted ids of common words."""
    build, seq = clock(index, conn)
    fresh = Columns(build, seq)
    fresh.load(key_batches(index, conn))
    load_words(index, conn, fresh)
    return fresh


def key_batches(index, conn: Connection) -> Iterator[list[tuple]]:
    raw = conn.connection.driver_connection
    postgres = index._sql.dialect == "postgresql"
    # PostgreSQL: a server-side cursor, so the client never holds every row at once
    cursor = raw.cursor(name="search_columns") if postgres else raw.cursor()
    try:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {index.tables.keys}")
        while rows := cursor.fetchmany(50_000):
            yield rows
    finally:
        cursor.close()
        if postgres:
            raw.rollback()  # the read's implicit transaction


def catch_up(index, conn: Connection, held: Columns, seq: int) -> bool:
    """Apply the changes after held.seq up to seq; False if the log no longer has them."""
    t = index.tables
    lowest = index._rows(conn, f"SELECT min(seq) FROM {t.log}", {})[0][0]
    if lowest is None or lowest > held.seq + 1:
        return False
    changed = [
        row[0]
        for row in index._rows(
            conn,
            f"SELECT DISTINCT id FROM {t.log} WHERE seq > :last AND seq <= :now",
            {"last": held.seq, "now": seq},
        )
    ]
    rows = []
    for chunk in chunks(changed, 500):
        names = {f"i{n}": i for n, i in enumerate(chunk)}
        rows += index._rows(
            conn,
            f"SELECT {', '.join(COLUMNS)} FROM {t.keys}"
            f" WHERE id IN ({', '.join(':' + n for n in names)})",
            names,
        )
    held.apply(changed, rows, seq)
    return True


def matches(
    index, conn: Connection, columns: Columns, terms: list[QueryTerm]
) -> tuple[np.ndarray, list[tuple]]:
    """(listing ids whose text matches every term, words to persist): each term's ids
    (any of its options) from memory, re-tested where listings changed since, or from
    the inverted index; intersected smallest first."""
    found, fresh = [], []
    for term in terms:
        expression = index._sql.match([term], [])
        key = "\x00".join(expression.values())
        held = columns.words.get(key)
        if held is None:
            ids = term_ids(index, conn, expression, None)
            columns.words.keep(key, ids, columns.seq)
            if len(ids) >= _words.WORD_HITS:
                fresh.append((key, columns.build, columns.seq, ids))
        else:
            ids, dirty = held
            if len(dirty):
                ids = np.union1d(
                    np.setdiff1d(ids, dirty, assume_unique=True),
                    term_ids(index, conn, expression, dirty.tolist()),
                )
                columns.words.keep(key, ids, columns.seq)
        found.append(ids)
    found.sort(key=len)
    ids = found[0]
    for other in found[1:]:
        ids = np.intersect1d(ids, other, assume_unique=True)
    return ids, fresh


def term_ids(index, conn: Connection, expression: dict, among: list[int] | None) -> np.ndarray:
    """Sorted ids matching one term's expression (among some ids only)."""
    t = index.tables
    names = {}
    if among is not None:
        names = {f"i{n}": i for n, i in enumerate(among)}
    marks = ", ".join(":" + n for n in names)
    if index._sql.dialect == "sqlite":
        sql = f"SELECT rowid FROM {t.fts} WHERE {t.fts} MATCH :q"
        if among is not None:
            sql += f" AND rowid IN (SELECT rid FROM {t.keys} WHERE id IN ({marks}))"
        rows = index._rows(conn, sql, {**expression, **names})
        rids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
        return np.unique(_ids_of_rows(rids))
    matches = " AND ".join(f"tsv @@ CAST(:{name} AS tsquery)" for name in expression)
    sql = f"SELECT id FROM {t.keys} WHERE {matches}"
    if among is not None:
        sql += f" AND id IN ({marks})"
    rows = index._rows(conn, sql, {**expression, **names})
    return np.unique(np.fromiter((row[0] for row in rows), np.int64, len(rows)))


def _ids_of_rows(rids: np.ndarray) -> np.ndarray:
    """Listing ids of SQLite rowids (the inverse of _schema.row_key)."""
    ids = rids & 0xFFFFFFFF
    negative = rids < 0
    if negative.any():
        ids[negative] = np.where(rids[negative] > -(1 << 32), rids[negative], -rids[negative])
    return ids


def load_words(index, conn: Connection, columns: Columns) -> None:
    """The persisted words of this build (the most recently written first, up to
    WORD_IDS ids) whose changes since the log still holds: their ids, and the ids
    changed since each was written (re-tested on first use)."""
    t = index.tables
    try:
        sizes = index._rows(
            conn,
            f"SELECT key, seq, length(ids) FROM {t.words} WHERE build = :build ORDER BY seq DESC",
            {"build": columns.build},
        )
    except conn.dialect.dbapi.Error:  # tables of a version without it: ensure() adds it
        log.warning("search: %s not readable, words not loaded", t.words, exc_info=True)
        return
    chosen, total, floor = [], 0, columns.seq
    for key, seq, size in sizes[: _words.WORD_COUNT]:
        if total + size // 8 <= _words.WORD_IDS:
            chosen.append(key)
            total += size // 8
            floor = min(floor, int(seq))
    if not chosen:
        return
    if floor < columns.seq:
        floor, journal = _changes_since(index, conn, floor, columns.seq)
        columns.words.seed(floor, journal)
    rows = []
    for chunk in chunks(chosen, 100):
        names = {f"k{n}": key for n, key in enumerate(chunk)}
        sql = f"SELECT key, seq, ids FROM {t.words} WHERE key IN ({', '.join(':' + n for n in names)})"
        rows += index._rows(conn, sql, names)
    for key, seq, blob in sorted(rows, key=lambda row: row[1]):  # the newest kept longest
        if int(seq) >= floor:
            columns.words.keep(key, np.frombuffer(bytes(blob), "<i8").astype(np.int64), int(seq))


def _changes_since(
    index, conn: Connection, lo: int, now: int
) -> tuple[int, list[tuple[int, np.ndarray]]]:
    """(the number after which the log holds every change up to now, the changed ids
    by number), at most JOURNAL_IDS ids."""
    t = index.tables
    lowest = index._rows(conn, f"SELECT min(seq) FROM {t.log}", {})[0][0]
    if lowest is None or lowest > now:
        return now, []
    floor = max(lo, int(lowest) - 1)
    rows = index._rows(
        conn,
        f"SELECT seq, id FROM {t.log} WHERE seq > :lo AND seq <= :now ORDER BY seq DESC LIMIT :cap",
        {"lo": floor, "now": now, "cap": _words.JOURNAL_IDS},
    )
    if len(rows) == _words.JOURNAL_IDS:  # the oldest number may be cut: not kept
        floor = int(rows[-1][0])
    by_seq: dict[int, list[int]] = {}
    for seq, listing_id in rows:
        if int(seq) > floor:
            by_seq.setdefault(int(seq), []).append(int(listing_id))
    journal = [(seq, np.array(ids, np.int64)) for seq, ids in sorted(by_seq.items())]
    return floor, journal


def persist_words(index, words: list[tuple]) -> None:
    """Write common words' ids for new processes; a failure only costs them a read."""
    if not words:
        return
    rows = [
        {"key": key, "build": build, "seq": seq, "ids": ids.astype("<i8").tobytes()}
        for key, build, seq, ids in words
    ]
    try:
        with index.engine.connect() as conn:
            before = None
            if index._sql.dialect == "sqlite":  # never hold a search up behind a writer
                before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {_LOCK_WAIT_MS}")
            try:
                conn.execute(  # rows of an older build are of no use any more
                    text(f"DELETE FROM {index.tables.words} WHERE build <> :build"),
                    {"build": rows[0]["build"]},
                )
                conn.execute(
                    text(
                        f"INSERT INTO {index.tables.words} (key, build, seq, ids)"
                        " VALUES (:key, :build, :seq, :ids) ON CONFLICT (key) DO UPDATE"
                        " SET build = excluded.build, seq = excluded.seq, ids = excluded.ids"
                    ),
                    rows,
                )
                conn.commit()
            finally:
                if before is not None:
                    conn.rollback()
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")
    except SQLAlchemyError:
        log.warning("search: word ids not persisted", exc_info=True)
