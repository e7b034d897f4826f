"""Database: the declarative base, the engine and the request-scoped session.

Services receive the session and never commit; the view, CLI command or job that
owns the unit of work commits once (see ``after_commit`` for side effects).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Japan's wall clock (UTC+9, no DST), the only one users read; timestamps are stored UTC.
TOKYO = ZoneInfo("Asia/Tokyo")


def to_japan(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp (naive UTC) as Japan's time."""
    return None if value is None else value.replace(tzinfo=dt.UTC).astimezone(TOKYO)


# The demo's year of history is made by the real services with the clock set back to each
# event (``as_of``); requests and jobs never set it, so for them this is the wall clock.
_AS_OF: ContextVar[dt.datetime | None] = ContextVar("meguri_as_of", default=None)


def _now() -> dt.datetime:
    """Now, aware: the wall clock, or the instant ``as_of`` set."""
    return _AS_OF.get() or dt.datetime.now(dt.UTC)


@contextmanager
def as_of(instant: dt.datetime) -> Iterator[None]:
    """Run services as if it were ``instant`` (aware): every reading of this module's clock
    (and so every ``created_at`` default) inside the block answers ``instant``. For loading
    the demo's past only (``market.demo_history``); never used by requests or jobs."""
    if instant.tzinfo is None:
        raise ValueError("as_of needs an aware datetime")
    token = _AS_OF.set(instant)
    try:
        yield
    finally:
        _AS_OF.reset(token)


def japan_today() -> dt.date:
    return _now().astimezone(TOKYO).date()


def japan_now() -> dt.datetime:
    """Now as naive Japan wall-clock time, for values stored that way (pickup slots)."""
    return _now().astimezone(TOKYO).replace(tzinfo=None)


def utcnow() -> dt.datetime:
    return _now().astimezone(dt.UTC).replace(tzinfo=None)


def make_engine(url: str, connect_timeout: int = 3) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # While the database is down or restarting, requests must fail within seconds (a 503
    # page) rather than hang: a short connect timeout, and a short wait for a pooled
    # connection. pool_pre_ping replaces connections a restart has killed.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args={"connect_timeout": connect_timeout},
    )


class Database:
    """Owns the engine and a scoped session for one app."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.factory = sessionmaker(self.engine, expire_on_commit=False)
        self.session = scoped_session(self.factory)

    def new_session(self) -> Session:
        """An independent session (jobs, CLI tools), not the request-scoped one."""
        return self.factory()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def remove(self) -> None:
        """End the request's session. If the database went away after the response was
        made, the closing ROLLBACK fails: the response stands (a 500 now would replace a
        good answer), the dead connection is already invalidated by SQLAlchemy, and the
        thread's session is dropped all the same so the next request starts clean."""
        try:
            self.session.remove()
        except (OperationalError, InterfaceError) as exc:
            log.warning(
                "closing the session: the database connection was lost (%s)", exc.orig or exc
            )
            self.session.registry.clear()

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


# Side effects queued inside a unit of work run only after it commits.
_PENDING = "meguri_after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session`` commits; drop it if the session rolls back."""
    session.info.setdefault(_PENDING, []).append(action)


_UNDO = "meguri_on_rollback"


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` if ``session`` rolls back (e.g. remove a file written for it)."""
    session.info.setdefault(_UNDO, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    session.info.pop(_UNDO, None)
    actions = session.info.pop(_PENDING, [])
    for action in actions:
        action()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    for action in session.info.pop(_UNDO, []):
        action()
