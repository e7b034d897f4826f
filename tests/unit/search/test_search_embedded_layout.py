"""Embedded engine internals: place-ordered row keys, the chord distance and the
self-upgrade of tables written by an older layout."""

import math
import os
import random

import pytest
from sqlalchemy import create_engine, text

from search import ListingDocument, SearchQuery, make_index
from search.embedded import row_key
from search.geo import chord_threshold, haversine_km, haversine_threshold, unit_vector
from search.tags import cluster_key
from search.text import _runs_by_character, runs


def doc(id, lat=None, lon=None, **fields):
    fields.setdefault("kind", "offer")
    fields.setdefault("title", f"椅子 {id}")
    return ListingDocument(id=id, lat=lat, lon=lon, **fields)


def test_row_keys_are_unique_and_put_neighbours_together():
    tokyo = [doc(i, 35.68 + i * 1e-4, 139.76) for i in range(1, 50)]
    osaka = [doc(i, 34.69, 135.50) for i in range(50, 99)]
    keys = sorted((row_key(d), d) for d in tokyo + osaka)
    assert len({k for k, _ in keys}) == len(keys)
    places = [d.lat > 35 for _, d in keys]  # all of one city, then all of the other
    assert places == sorted(places) or places == sorted(places, reverse=True)
    odd = [doc(0), doc(2**32), doc(2**40, 35.0, 139.0), doc(-7, 35.0, 139.0), doc(2**32 - 1)]
    assert len({row_key(d) for d in odd}) == len(odd)
    assert cluster_key(None, 139.0) == 0
    assert 0 < cluster_key(-90.0, -180.0) < cluster_key(89.999, 179.999) <= 2**24


def test_chord_is_the_haversine_term():
    rng = random.Random(3)
    for _ in range(2000):
        a = (rng.uniform(-89, 89), rng.uniform(-180, 180))
        b = (rng.uniform(-89, 89), rng.uniform(-180, 180))
        chord2 = sum((p - q) ** 2 for p, q in zip(unit_vector(*a), unit_vector(*b), strict=True))
        km = haversine_km(*a, *b)
        assert math.isclose(chord2 / 4, math.sin(km / (2 * 6371.0088)) ** 2, abs_tol=1e-12)
    assert chord_threshold(50) == pytest.approx(4 * haversine_threshold(50))


def test_runs_match_the_character_by_character_definition():
    rng = random.Random(5)
    alphabet = "aZ9_-・ー々〆〇ヶあア漢字０ＲⅫ²٣\u3000 \n!？、。" + chr(0x20000) + chr(0xF900)
    for _ in range(3000):
        sample = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert runs(sample) == _runs_by_character(sample)


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'layout.db'}")
    else:
        url = os.environ.get("MEGURI_TEST_DATABASE_URL")
        if not url:
            pytest.skip("PostgreSQL not configured: set MEGURI_TEST_DATABASE_URL")
        engine = create_engine(url)
    yield engine
    engine.dispose()


def test_tables_of_an_older_layout_are_rebuilt_from_their_store(engine):
    index = make_index(engine, "embedded", name="layoutcheck")
    index.drop()
    index.ensure()
    index.upsert([doc(1, 35.68, 139.76), doc(2, 34.69, 135.50, title="土砂")])
    with engine.begin() as conn:  # what an index written before the chord columns lacks
        conn.execute(text(f"ALTER TABLE {index.docs_table} DROP COLUMN cx"))
    try:
        index.ensure()
        assert index.search(SearchQuery(text="椅子", near=(35.68, 139.76), radius_km=5)).ids == [1]
        assert index.search(SearchQuery(text="土砂")).ids == [2]
        assert set(index.fingerprints()) == {1, 2}
    finally:
        index.drop()
