"""The embedded engine under concurrent writes, on SQLite and PostgreSQL: writes of one
listing at the same moment and in any order end in its newest version, and any number of
processes may ensure a new index at once.

Before: two upserts of one listing on PostgreSQL failed with a duplicate key in the
index (or a deadlock), and the job worker logged "search index unavailable"."""

from __future__ import annotations

import os
import random
import secrets
import threading

import pytest
from sqlalchemy import create_engine

from search import ListingDocument, SearchQuery, make_index

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
THREADS = 6


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'search.db'}", pool_size=THREADS + 2)
    else:
        url = os.environ.get("MEGURI_TEST_DATABASE_URL")
        if not url:
            pytest.skip("PostgreSQL not configured: set MEGURI_TEST_DATABASE_URL")
        engine = create_engine(url, pool_size=THREADS + 2)
    yield engine
    engine.dispose()


@pytest.fixture
def index(engine):
    index = make_index(engine, "embedded", name="t" + secrets.token_hex(4))
    index.ensure()
    yield index
    index.drop()


def chair(version: int, listing_id: int = 1, status: str = "open") -> ListingDocument:
    return ListingDocument(
        id=listing_id, kind="offer", title=f"中古の椅子 版{version}", status=status
    )


def titles(index, listing_id: int = 1) -> list[str]:
    hits = index.search(SearchQuery(text="椅子", per_page=100)).hits
    return [h.document.title for h in hits if h.id == listing_id]


def run_together(work, count: int = THREADS) -> list[str]:
    """Run work(n) on `count` threads started together; the errors they raised."""
    errors: list[str] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        barrier.wait()
        try:
            work(n)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_an_older_change_arriving_late_changes_nothing(index):
    index.upsert([chair(5)], versions={1: 5})
    index.upsert([chair(3)], versions={1: 3})  # read earlier, delivered later
    assert titles(index) == ["中古の椅子 版5"]
    index.delete([1], versions={1: 4})
    assert titles(index) == ["中古の椅子 版5"]

    index.delete([1], versions={1: 6})  # the listing was deleted
    index.upsert([chair(4)], versions={1: 4})  # an older edit must not bring it back
    assert titles(index) == []

    index.upsert([chair(7)], versions={1: 7})  # a newer edit does
    assert titles(index) == ["中古の椅子 版7"]
    index.upsert([chair(6, status="closed")], versions={1: 6})  # older close: ignored
    assert titles(index) == ["中古の椅子 版7"]
    index.upsert([chair(9)])  # unversioned (rebuild, repair): always written
    assert titles(index) == ["中古の椅子 版9"]


def test_concurrent_writes_of_one_listing_end_in_the_newest(index):
    versions = list(range(1, 61))
    random.Random(12).shuffle(versions)
    newest = max(versions)
    deleted = {v for v in versions if v % 7 == 0}  # some changes delete the listing

    def write(n: int) -> None:
        for version in versions[n::THREADS]:
            if version in deleted:
                index.delete([1], versions={1: version})
            else:
                # another listing in the same call, as the outbox delivers batches
                index.upsert(
                    [chair(version), chair(version, listing_id=2)],
                    versions={1: version, 2: version},
                )

    assert run_together(write) == []
    assert titles(index) == [f"中古の椅子 版{newest}"]
    assert titles(index, 2) == [f"中古の椅子 版{newest}"]
    assert index.count() == 2


def test_concurrent_unversioned_writes_of_one_listing_do_not_collide(index):
    def write(n: int) -> None:
        for i in range(15):
            index.upsert([chair(100 * n + i)])

    assert run_together(write) == []
    assert len(titles(index)) == 1 and index.count() == 1


def test_many_workers_ensure_a_new_index_at_once(engine):
    name = "t" + secrets.token_hex(4)
    indexes = [make_index(engine, "embedded", name=name) for _ in range(THREADS)]
    try:
        assert run_together(lambda n: indexes[n].ensure()) == []
        indexes[0].upsert([chair(1)])
        assert titles(indexes[-1]) == ["中古の椅子 版1"]
    finally:
        indexes[0].drop()
