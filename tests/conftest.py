"""Shared fixtures: an app on a migrated database (SQLite always, PostgreSQL when
MEGURI_TEST_DATABASE_URL is set), its client, and factories for users and listings.

Isolation (see tests/README.md): on PostgreSQL each test runs inside one outer transaction
that is rolled back at teardown (``OuterTransaction``); tests marked ``commits`` (and all of
tests/integration and tests/browser) get real commits and a truncated database instead. On
SQLite each test gets its own copy of a migrated file."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

import market.db
from market import create_app, migrate
from market.db import japan_today

PG_URL = os.environ.get("MEGURI_TEST_DATABASE_URL")
PG_REASON = "PostgreSQL tests need MEGURI_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
# Tables the migrations seed (reference data, factors): kept between tests, never truncated.
SEEDED_TABLES: set[str] = set()
# The id sequences of the other tables: set back at the start of each outer transaction (a
# rollback leaves them where they were), so every test sees ids from 1 as after TRUNCATE.
RESET_SEQUENCES: list[str] = []
# Whole directories whose tests commit for real: other processes (gunicorn, workers),
# threads racing on their own connections, a browser driving a live server.
COMMITTING_DIRS = ("integration", "browser")
MARK_COMMITS = "mark the test @pytest.mark.commits (it then gets real commits and a fresh database)"


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).parent
    for item in items:
        parts = (
            Path(item.path).relative_to(root).parts if Path(item.path).is_relative_to(root) else ()
        )
        if parts and parts[0] in COMMITTING_DIRS:
            item.add_marker(pytest.mark.commits)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file; each test gets a copy (much faster than migrating each time).
    SQLite keeps the copy rather than an outer transaction: the search index issues its own
    BEGIN IMMEDIATE and DDL on the driver connection, which a SAVEPOINT cannot contain."""
    path = tmp_path_factory.mktemp("template") / "meguri.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


def _pg_app_url() -> str:
    """A database of our own beside the given one, so other suites sharing it are untouched."""
    url = sa.engine.make_url(PG_URL)
    # One database per test run, so that concurrent runs never drop each other's.
    return url.set(database=f"{url.database}_meguri_app_{os.getpid()}").render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def pg_database():
    """This worker's database, migrated once; its engine's pool lends the outer connections."""
    if not PG_URL:
        pytest.skip(PG_REASON)
    target = _pg_app_url()
    name = sa.engine.make_url(target).database
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate.upgrade(target)
    engine = sa.create_engine(target)
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            if conn.execute(sa.text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')).scalar():
                SEEDED_TABLES.add(table)
        owned = conn.execute(
            sa.text(
                "SELECT s.relname, t.relname FROM pg_class s"
                " JOIN pg_depend d ON d.objid = s.oid AND d.refobjsubid > 0"
                " JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S'"
            )
        )
        RESET_SEQUENCES[:] = sorted(seq for seq, table in owned if table not in SEEDED_TABLES)
    engine.dispose()
    yield target
    outer = _outer_connections.pop(target, None)
    if outer is not None:
        psycopg.Connection.close(outer)
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# One connection per worker database, lent to each test's outer transaction in turn.
_outer_connections: dict[str, _OuterConnection] = {}


def _outer_connection(url: str) -> _OuterConnection:
    conn = _outer_connections.get(url)
    if conn is None or conn.closed or conn.broken:
        libpq = sa.engine.make_url(url).set(drivername="postgresql")
        conn = _OuterConnection.connect(libpq.render_as_string(hide_password=False))
        _outer_connections[url] = conn
    return conn


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t not in SEEDED_TABLES]
        if tables:
            conn.execute(
                sa.text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
    engine.dispose()


class MisusedOuterTransaction(AssertionError):
    """The test did something one rolled-back transaction cannot stand for."""


class _OuterConnection(psycopg.Connection):
    """The psycopg connection as the app's pool sees it: commit, rollback and close may not
    end the outer transaction. A raw ``rollback()`` (the search engine ends a read's
    implicit transaction that way) rolls back to the innermost SAVEPOINT, which is what it
    would undo on a connection of its own; the fixture ends the connection with ``end``."""

    outer: OuterTransaction

    def cursor(self, *args, **kwargs):
        self.outer.check_thread("a cursor")
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        pass  # the SQLAlchemy transaction around it releases its SAVEPOINT

    def rollback(self) -> None:
        if self.outer.savepoints:
            self.execute(f"ROLLBACK TO SAVEPOINT {self.outer.savepoints[-1].name}")

    def close(self) -> None:
        pass

    def end(self) -> None:
        """Roll the outer transaction back, keeping the connection for the next test."""
        psycopg.Connection.rollback(self)


@dataclass
class _Savepoint:
    """A transaction the app began, as a SAVEPOINT on the outer connection."""

    name: str
    owner: object  # the pool's connection (one per SQLAlchemy Connection) that began it
    wrote: bool = False  # ran a statement other than a read, or one that failed
    finished: bool = False  # committed (or a clean rollback), to be released when innermost
    covers: bool = False  # holds work another connection committed: may not be rolled back


class OuterTransaction:
    """One PostgreSQL connection whose transaction the fixture begins and rolls back at
    teardown. Every engine the app makes for the test's database (``market.db.make_engine``
    is patched) hands out this connection only, and every transaction begun on it becomes
    a SAVEPOINT: a commit releases it, a rollback rolls back to it. Nothing reaches the
    database for good, so no test has to clean up and the schema is made once per worker.

    What one connection in one thread cannot stand for fails loudly, asking for
    ``@pytest.mark.commits``: use from another thread, a second connection to the same
    database, or a transaction rolled back under another one that is still open."""

    def __init__(self, conn: _OuterConnection):
        self.database = conn.info.dbname
        self.thread = threading.get_ident()
        self.conn = conn
        conn.outer = self
        # psycopg begins the outer transaction here; setval is not transactional
        conn.execute(
            "SELECT "
            + (", ".join(f"setval('\"{seq}\"', 1, false)" for seq in RESET_SEQUENCES) or "1")
        )
        self.savepoints: list[_Savepoint] = []  # innermost last
        self.problems: list[str] = []
        self.n = 0

    def fail(self, problem: str):
        self.problems.append(problem)
        raise MisusedOuterTransaction(f"{problem}: {MARK_COMMITS}")

    def check_thread(self, what: str) -> None:
        if threading.get_ident() != self.thread:
            self.fail(
                f"{what} on the test's database from thread {threading.current_thread().name}"
            )

    def make_engine(self, url: str, connect_timeout: int = 3) -> sa.Engine:
        engine = sa.create_engine(url, poolclass=StaticPool, creator=lambda: self.conn)
        dialect = engine.dialect
        dialect.do_begin = self.begin
        dialect.do_commit = self.commit
        dialect.do_rollback = self.rollback
        sa.event.listen(engine, "before_cursor_execute", self._saw_statement)
        sa.event.listen(engine, "handle_error", self._saw_error)
        return engine

    def begin(self, owner) -> None:
        self.check_thread("a transaction")
        self.n += 1
        name = f"test_tx_{self.n}"
        self.conn.execute(f"SAVEPOINT {name}")
        self.savepoints.append(_Savepoint(name, owner))

    def _entry(self, owner) -> _Savepoint | None:
        return next((sp for sp in reversed(self.savepoints) if sp.owner is owner), None)

    def _saw_statement(self, conn, _cursor, statement, *_args) -> None:
        words = statement.split(None, 1)
        reads = bool(words) and words[0].upper() in ("SELECT", "SHOW")
        if not reads and (entry := self._entry(conn.connection)) is not None:
            entry.wrote = True

    def _saw_error(self, context) -> None:
        # A failed statement leaves the savepoint aborted: only a rollback to it recovers.
        conn = context.connection
        if conn is not None and (entry := self._entry(conn.connection)) is not None:
            entry.wrote = True

    def commit(self, owner) -> None:
        if (entry := self._entry(owner)) is not None:
            self._end(entry)

    def rollback(self, owner) -> None:
        entry = self._entry(owner)
        if entry is None:
            return  # the pool's reset of a connection with no transaction open
        if not entry.wrote:
            self._end(entry)  # nothing to undo: as a commit, so later committed work stays
            return
        if entry is not self.savepoints[-1]:
            self.fail(
                "a transaction rolled back while one begun after it on another connection is"
                " still open (its work would be undone too)"
            )
        if entry.covers:
            self.fail(
                "a transaction rolled back after another connection committed while it was"
                " open (the committed work would be undone too)"
            )
        self.conn.execute(f"ROLLBACK TO SAVEPOINT {entry.name}")
        self.conn.execute(f"RELEASE SAVEPOINT {entry.name}")
        self.savepoints.pop()
        self._release_finished()

    def _end(self, entry: _Savepoint) -> None:
        """Release ``entry``'s SAVEPOINT, now if it is the innermost; else when the ones
        begun after it (on other connections) have ended, releasing now would end them."""
        entry.finished = True
        self._release_finished()

    def _release_finished(self) -> None:
        while self.savepoints and self.savepoints[-1].finished:
            done = self.savepoints.pop()
            self.conn.execute(f"RELEASE SAVEPOINT {done.name}")
            if self.savepoints and (done.wrote or done.covers):
                self.savepoints[-1].covers = True  # its work is now part of this one

    def guard_other_connections(self, dbapi_conn, record) -> None:
        """A second connection to this database would not see the test's rows and would
        wait forever on its locks."""
        if dbapi_conn is self.conn:
            return
        info = getattr(dbapi_conn, "info", None)
        if getattr(info, "dbname", None) == self.database:
            dbapi_conn.close()
            self.fail(f"a second connection to {self.database}")

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.end()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "meguri.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    if request.node.get_closest_marker("commits"):
        yield url
        _truncate(url)
        return
    outer = OuterTransaction(_outer_connection(url))
    request.node.outer_transaction = outer  # for tests/web/test_isolation.py
    real = market.db.make_engine
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(
        market.db,
        "make_engine",
        lambda u, *a, **k: outer.make_engine(u) if u == url else real(u, *a, **k),
    )
    sa.event.listen(sa.pool.Pool, "connect", outer.guard_other_connections)
    try:
        yield url
    finally:
        sa.event.remove(sa.pool.Pool, "connect", outer.guard_other_connections)
        outer.close()
    if outer.problems:
        pytest.fail(f"{outer.problems[0]}: {MARK_COMMITS}", pytrace=False)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATE_LIMITS": False,
            "LOG_FORMAT": "text",
        }
    )
    yield app
    app.extensions["meguri.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    with app.app_context():
        yield app.extensions["meguri.db"].session()


@dataclass(frozen=True)
class Member:
    id: int
    org_id: int
    email: str


PASSWORD = "correct horse battery"


class Factory:
    """Builds organisations, users and listings straight through the services."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    def user(self, org_kind: str = "contractor", **extra):
        from market.accounts import services

        self.n += 1
        with self.app.test_request_context():
            session = self.app.extensions["meguri.db"].session()
            user = services.sign_up(
                session,
                email=f"user{self.n}@example.jp",
                password=PASSWORD,
                display_name=f"User {self.n}",
                org_name=f"Org {self.n}",
                org_kind=org_kind,
                stockyard_registration_no="SY-13-0001"
                if org_kind == "stockyard_operator"
                else None,
                prefecture_code="13",
                **extra,
            )
            user.email_verified_at = dt.datetime(2026, 1, 1)  # as after opening the mailed link
            session.commit()
            return Member(user.id, user.organisation_id, user.email)

    def member(self, org_id: int | None, email: str, **fields) -> Member:
        """Another person: in an organisation (a colleague), or in none (a site admin,
        with ``is_site_admin=True``); password PASSWORD, address confirmed unless told."""
        from werkzeug.security import generate_password_hash

        from market.accounts.models import User

        fields = {
            "display_name": email.split("@")[0],
            "email_verified_at": dt.datetime(2026, 1, 1),
            **fields,
        }
        user = in_session(
            self.app,
            lambda s: _added(
                s,
                User(
                    email=email,
                    password_hash=generate_password_hash(PASSWORD),
                    organisation_id=org_id,
                    **fields,
                ),
            ),
        )
        return Member(user.id, org_id, email)

    def listing(self, member: Member, kind: str = "soil_offer", **values):
        from market.accounts.models import User
        from market.catalog import services, validation
        from market.catalog.models import ListingKind

        data = {**listing_data(kind), **values}
        with self.app.test_request_context():
            session = self.app.extensions["meguri.db"].session()
            user = session.get(User, member.id)
            clean = validation.validate(session, ListingKind(kind), data)
            listing = services.create_listing(session, user, ListingKind(kind), clean)
            session.commit()
            return listing.id


def in_session(app, work, *, commit: bool = True):
    """``work(session)`` in a session and app context of its own (holding one across
    requests would share ``g`` with the test clients), committed; what it returns comes
    back with its loaded rows detached, usable after the session is gone."""
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        try:
            result = work(session)
            if commit:
                session.commit()
            session.expunge_all()
            return result
        finally:
            session.close()


def _added(session, row):
    session.add(row)
    session.flush()
    return row


def listing_data(kind: str = "soil_offer") -> dict:
    """Valid input for every kind, as a JSON API client would send it."""
    today = japan_today()
    base = {
        "title": "江東区 発生土 第2b種 1,200m³",
        "description": "掘削土、平日搬出可",
        "lat": 35.6727,
        "lon": 139.8171,
        "prefecture_code": "13",
        "municipality_code": "131083",
        "window_start": today.isoformat(),
        "window_end": (today + dt.timedelta(days=60)).isoformat(),
        "quantity": 1200,
        "price_per_unit": -1500,
        "status": "open",
    }
    extra = {
        "soil_offer": {
            "soil_class_code": "2b",
            "cone_index": 900,
            "contamination_status": "not_required",
            "max_haul_km": 40,
        },
        "soil_want": {
            "soil_use_code": "road_embankment",
            "accepted_classes": ["1", "2a", "2b"],
            "improved_allowed": True,
            "price_per_unit": 0,
        },
        "material_offer": {
            "material_category_code": "timber",
            "condition": "unused",
            "price_per_unit": 500,
        },
        "material_want": {"material_category_code": "rebar", "price_per_unit": 500},
        "reuse_item": {
            "reuse_category_code": "chair",
            "condition": "A",
            "pickup_point": "江東区清掃事務所",
            "quantity": 1,
            "price_per_unit": 300,
        },
        "reuse_want": {
            "category_prices": {"chair": 500, "table": 1500},
            "service_radius_km": 30,
            "daily_pickup_capacity": 10,
            "quantity": 100,
            "price_per_unit": 0,
        },
        "recycled_offer": {
            "material_code": "road_base",
            "grade_code": "RC-40",
            "properties": {"absorption": 4.2},
            "price_per_unit": 1200,
        },
        "recycled_want": {
            "material_code": "road_base",
            "min_grade_code": "RC-40",
            "property_limits": {"absorption": {"max": 5.0}},
            "blend_allowed": True,
            "price_per_unit": 1800,
        },
        "stockyard": {
            "capacity_m3": 10000,
            "accepted_classes": ["1", "2a", "2b", "3a"],
            "price_per_unit": 600,
        },
    }[kind]
    return {**base, **extra}


@pytest.fixture
def factory(app):
    return Factory(app)


@pytest.fixture
def login(client):
    """Sign ``member`` in through the real form; returns the client."""

    def do(member: Member):
        response = client.post("/login", data={"email": member.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do
