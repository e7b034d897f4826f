"""Shared fixtures: an app on a migrated database (SQLite always, PostgreSQL when
MEGURI_TEST_DATABASE_URL is set), its client, and factories for users and listings."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from market import create_app, migrate
from market.db import japan_today

PG_URL = os.environ.get("MEGURI_TEST_DATABASE_URL")
PG_REASON = "PostgreSQL tests need MEGURI_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
# Tables the migrations seed (reference data, factors): kept between tests, never truncated.
SEEDED_TABLES: set[str] = set()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
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
    engine.dispose()
    yield target
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "meguri.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    yield url
    _truncate(url)


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
