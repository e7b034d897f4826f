"""One contract suite, every backend available here: embedded on SQLite always, embedded
on PostgreSQL with MEGURI_TEST_DATABASE_URL, Meilisearch with MEGURI_MEILI_URL."""

import os
import secrets

import pytest
from sqlalchemy import create_engine

from search import make_index

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("meilisearch", marks=pytest.mark.meili),
]


@pytest.fixture(scope="session")
def postgres_engine():
    url = os.environ.get("MEGURI_TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL not configured: set MEGURI_TEST_DATABASE_URL")
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def make_search_index(request, tmp_path):
    """Factory for fresh, empty indexes of the parametrised backend; dropped afterwards."""
    created = []

    def factory(**settings):
        name = "t" + secrets.token_hex(4)
        if request.param == "sqlite":
            engine = create_engine(f"sqlite:///{tmp_path / (name + '.db')}")
            index = make_index(engine, "embedded", name=name, **settings)
        elif request.param == "postgres":
            engine = request.getfixturevalue("postgres_engine")
            index = make_index(engine, "embedded", name=name, **settings)
        else:
            url = os.environ.get("MEGURI_MEILI_URL")
            if not url:
                pytest.skip("Meilisearch not configured: set MEGURI_MEILI_URL")
            index = make_index(
                url,
                "meilisearch",
                name=name,
                api_key=os.environ.get("MEGURI_MEILI_KEY"),
                **settings,
            )
        index.ensure()
        created.append(index)
        return index

    yield factory
    for index in created:
        index.drop()
        engine = getattr(index, "engine", None)
        if engine is not None and request.param == "sqlite":
            engine.dispose()


@pytest.fixture
def search_index(make_search_index):
    return make_search_index()
