"""Migrations build the whole schema from empty and take it away again, on SQLite and
PostgreSQL, and a model change without a migration is caught."""

from __future__ import annotations

import os
import types
import uuid

import pytest
import sqlalchemy as sa

from market import migrate, models

PG_URL = os.environ.get("MEGURI_TEST_DATABASE_URL")
PG_REASON = "PostgreSQL tests need MEGURI_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'scratch.db'}"


@pytest.fixture
def pg_url():
    """A scratch database of its own (not the one the app tests use), dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_REASON)
    base = sa.engine.make_url(PG_URL)
    # Its own name per run: two suites on one server (CI beside a developer's run) must never
    # drop each other's database.
    target = base.set(database=f"{base.database}_meguri_migrations_{uuid.uuid4().hex[:8]}")
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def recreate(create: bool) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            if create:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))

    recreate(True)
    yield target.render_as_string(hide_password=False)
    recreate(False)
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def drift(url: str) -> list:
    engine = sa.create_engine(url)
    try:
        return migrate.drift(engine, models.Base.metadata)
    finally:
        engine.dispose()


def round_trip(url: str) -> None:
    assert tables(url) == set()

    migrate.upgrade(url)

    built = tables(url)
    assert {
        "organisations",
        "users",
        "listings",
        "listing_photos",
        "prefectures",
        "soil_classes",
    } <= built
    assert drift(url) == [], "models and migrations differ: write a migration"
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # reference data is seeded by the migrations
        assert conn.scalar(sa.text("SELECT count(*) FROM prefectures")) == 47
        assert conn.scalar(sa.text("SELECT count(*) FROM soil_classes")) > 0
    engine.dispose()

    migrate.downgrade(url, "base")
    assert tables(url) <= {"alembic_version"}, "downgrade left tables behind"

    migrate.upgrade(url)  # and it can be built again after going down
    assert tables(url) == built and drift(url) == []


def test_sqlite_upgrade_from_empty_and_downgrade_to_nothing(sqlite_url):
    round_trip(sqlite_url)


@pytest.mark.postgres
def test_postgresql_upgrade_from_empty_and_downgrade_to_nothing(pg_url):
    round_trip(pg_url)


def test_drift_check_notices_a_model_change_without_a_migration(sqlite_url, monkeypatch):
    migrate.upgrade(sqlite_url)
    assert drift(sqlite_url) == []
    changed = sa.MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["listings"].append_column(sa.Column("colour", sa.String(20)))
    changed.tables["users"].c.email.type = sa.String(400)
    sa.Table(
        "search_cache", changed, sa.Column("id", sa.Integer, primary_key=True)
    )  # not ours: ignored
    monkeypatch.setattr(models, "Base", types.SimpleNamespace(metadata=changed))

    found = drift(sqlite_url)

    described = repr(found)
    assert "colour" in described and "email" in described
    assert "search_cache" not in described
