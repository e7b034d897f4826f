"""The PostgreSQL outer transaction (tests/conftest.py): what the app commits stays inside
it, and what one connection in one thread cannot stand for fails loudly, asking for
``@pytest.mark.commits``."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa


@pytest.fixture
def outer(request, app):
    if app.extensions["meguri.db"].is_sqlite:
        pytest.skip("SQLite copies a migrated file per test; the outer transaction is PostgreSQL's")
    outer = request.node.outer_transaction
    yield outer
    outer.problems.clear()  # each problem here is provoked on purpose


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM organisations")).scalar_one()


def test_commits_are_savepoints_and_rollbacks_undo_only_their_own(app, outer, factory):
    engine = app.extensions["meguri.db"].engine
    factory.user()  # signs up and commits
    assert _count(engine) == 1
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organisations (name, kind, created_at) VALUES ('x', 'contractor', now())"
            )
        )
        conn.rollback()
    assert _count(engine) == 1
    assert outer.savepoints == [] and outer.conn.info.transaction_status.name == "INTRANS"


def test_a_raw_rollback_undoes_the_innermost_transaction_only(app, outer, factory):
    engine = app.extensions["meguri.db"].engine
    factory.user()
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organisations (name, kind, created_at) VALUES ('x', 'contractor', now())"
            )
        )
        conn.connection.driver_connection.rollback()  # as the search engine ends a read
        assert conn.execute(sa.text("SELECT count(*) FROM organisations")).scalar_one() == 1
    assert _count(engine) == 1


def test_a_commit_under_a_later_open_transaction_waits_for_it(app, outer, factory):
    engine = app.extensions["meguri.db"].engine
    first, second = engine.connect(), engine.connect()
    first.execute(
        sa.text(
            "INSERT INTO organisations (name, kind, created_at) VALUES ('a', 'contractor', now())"
        )
    )
    second.execute(
        sa.text(
            "INSERT INTO organisations (name, kind, created_at) VALUES ('b', 'contractor', now())"
        )
    )
    first.commit()
    second.rollback()  # undoes b only
    first.close(), second.close()
    assert _count(engine) == 1 and outer.savepoints == []


def test_use_from_another_thread_asks_for_the_mark(app, outer):
    engine = app.extensions["meguri.db"].engine
    raised: list[BaseException] = []

    def read():
        try:
            _count(engine)
        except BaseException as exc:  # noqa: BLE001 - the failure is what is checked
            raised.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=30)
    assert raised and "pytest.mark.commits" in str(raised[0])
    assert "thread" in outer.problems[0]


def test_a_second_connection_to_the_database_asks_for_the_mark(app, outer, database_url):
    other = sa.create_engine(database_url)
    try:
        with pytest.raises(AssertionError, match="pytest.mark.commits"):
            other.connect()
    finally:
        other.dispose()
    assert "a second connection" in outer.problems[0]


def test_rolling_back_written_work_under_an_open_later_transaction_asks_for_the_mark(app, outer):
    engine = app.extensions["meguri.db"].engine
    first, second = engine.connect(), engine.connect()
    first.execute(
        sa.text(
            "INSERT INTO organisations (name, kind, created_at) VALUES ('a', 'contractor', now())"
        )
    )
    second.execute(sa.text("SELECT 1"))
    with pytest.raises(AssertionError, match="pytest.mark.commits"):
        first.rollback()
    second.rollback()
    outer.savepoints.clear()  # the outer rollback at teardown ends both
    first.close(), second.close()
