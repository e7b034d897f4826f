"""The embedded engine's in-memory columns: the same pages, totals and facet counts as
the one-statement SQL engine they replaced, on random queries over awkward data; and
every process sees every other's writes and rebuilds on its next search."""

import os
import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from search import (
    ListingDocument,
    SearchQuery,
    SynonymGroup,
    Synonyms,
    _columns,
    _sync,
    _words,
    embedded,
    make_index,
)

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WORDS = ["椅子", "いす", "オフィスチェア", "タンス", "箪笥", "自転車", "再生砕石 RC-40", "RC40",
         "第2a種 発生土", "残土", "コンクリート塊", "コンガラ", "steel scrap", "wooden pallets",
         "concrete rubble", "鉄くず", "石膏ボード"]  # fmt: skip
PLACES = [(35.68, 139.76), (35.66, 139.32), (34.69, 135.50), (43.06, 141.35), (26.21, 127.68)]
TEXTS = ["", "椅子", "いす", "たんす", "じてんしゃ", "RC40", "rc-40", "第2a種", "ガラ", "がら",
         "残土", "chairs", "steel", "concreet", "palets", "中古 いす", "再生砕石 rc40", "い"]  # fmt: skip


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'columns.db'}")
    else:
        url = os.environ.get("MEGURI_TEST_DATABASE_URL")
        if not url:
            pytest.skip("PostgreSQL not configured: set MEGURI_TEST_DATABASE_URL")
        engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def index(engine):
    index = make_index(engine, "embedded", name="t" + os.urandom(4).hex())
    index.ensure()
    index.set_synonyms(
        Synonyms(
            [SynonymGroup(("残土", "発生土")), SynonymGroup(("ガラ", "コンクリート塊"), False)]
        )
    )
    yield index
    index.drop()


def listing(rng: random.Random, i: int) -> ListingDocument:
    """Ties on purpose: shared places, shared creation times, missing places, prices,
    windows and creation times."""
    place = rng.choice([*PLACES, None])
    start = rng.choice([None, date(2025, 1, 1) + timedelta(days=rng.randint(0, 60))])
    return ListingDocument(
        id=i,
        kind=rng.choice(["offer", "wanted"]),
        title=f"{rng.choice(WORDS)} {rng.choice(['', '中古', '美品'])} {i % 7}",
        description=rng.choice(["", "引取り歓迎。", f"{rng.choice(WORDS)}があります。"]),
        category=rng.choice(["furniture", "soil", "metal", None]),
        prefecture=rng.choice(["13", "27", "01", None]),
        grade=rng.choice(["RC-40", None]),
        price_per_unit=rng.choice([None, 0, 100, 500, 500, 3000]),
        window_start=start,
        window_end=None if start is None else start + timedelta(days=rng.randint(0, 90)),
        lat=None if place is None else place[0] + rng.choice([0.0, 0.0, rng.uniform(-0.3, 0.3)]),
        lon=None if place is None else place[1] + rng.choice([0.0, 0.0, rng.uniform(-0.3, 0.3)]),
        created_at=rng.choice(
            [None, datetime(2025, 3, 1), datetime(2025, 1, 1) + timedelta(hours=i % 5000)]
        ),
    )


def queries(rng: random.Random, count: int) -> list[SearchQuery]:
    out = []
    for _ in range(count):
        near = rng.choice([None, rng.choice(PLACES)])
        filters = rng.choice([{}, {}, {"category": ["furniture"]}, {"prefecture": ["13", "27"]},
                              {"kind": ["wanted"], "grade": ["RC-40"]}, {"category": ["nothing"]}])  # fmt: skip
        out.append(
            SearchQuery(
                text=rng.choice(TEXTS),
                filters=filters,
                near=near,
                radius_km=rng.choice([None, 5, 60, 2000]) if near else None,
                sort=rng.choice(
                    ["relevance", "relevance", "distance", "price_asc", "price_desc", "newest"]
                )
                if near
                else rng.choice(["relevance", "newest", "price_asc"]),  # fmt: skip
                price_min=rng.choice([None, None, 100]),
                price_max=rng.choice([None, None, 500]),
                window_from=rng.choice([None, None, date(2025, 1, 10)]),
                window_to=rng.choice([None, None, date(2025, 1, 20)]),
                facets=rng.choice([(), ("category", "prefecture", "kind"), ("grade", "unit")]),
                page=rng.choice([1, 1, 2, 3]),
                per_page=rng.choice([5, 20]),
            )
        )
    return out


@pytest.mark.parametrize("chunk, word_hits", [(8, 1), (2048, 2000)])
def test_columns_give_what_the_sql_engine_gives(index, chunk, word_hits, monkeypatch):
    """chunk 8: relevance ranks the first candidates and only then the rest; word_hits
    1: every query word's ids are also persisted (every word's ids are kept in memory and
    re-tested where listings change)."""
    monkeypatch.setattr(_columns, "FIRST_CHUNK", chunk)
    monkeypatch.setattr(_words, "WORD_HITS", word_hits)
    rng = random.Random(16)
    index.upsert([listing(rng, i) for i in range(1, 1201)])
    assert index.search(SearchQuery()).total == 1200  # columns loaded: the rest is followed
    index.upsert([listing(rng, 2**33 + i) for i in range(5)])  # ids no longer dense
    assert index.search(SearchQuery()).total == 1205
    compared = 0
    for round in range(2):
        if round:  # words kept from the first round, then these changes
            index.delete(range(1, 1201, 9))  # holes
            index.upsert([listing(rng, i) for i in range(1195, 1260)])  # new and changed
        for query in queries(rng, 100):
            expected = index._search_sql(query)
            found = index.search(query)
            assert found.ids == expected.ids, query
            assert found.total == expected.total == index.count(query) == index._count_sql(query)
            assert found.facets == expected.facets, query
            compared += bool(found.ids)
    assert compared > 80  # most queries find something: the comparison means something


def test_every_process_sees_the_others_writes_and_rebuilds(index, engine, monkeypatch):
    monkeypatch.setattr(_words, "WORD_HITS", 1)  # 椅子's ids are persisted and kept current
    other = make_index(engine, "embedded", name=index.name)  # another process's object
    chairs = SearchQuery(text="椅子", facets=("category",))
    index.upsert([ListingDocument(id=1, kind="offer", title="椅子", category="furniture")])
    assert other.search(chairs).ids == [1]  # loads its columns
    index.upsert([ListingDocument(id=2, kind="offer", title="椅子 2脚", category="metal")])
    found = other.search(chairs)
    assert found.ids == [2, 1] and found.facets["category"] == {"furniture": 1, "metal": 1}
    index.upsert([ListingDocument(id=1, kind="offer", title="机", category="furniture")])
    index.delete([2])
    assert other.search(chairs).ids == []
    assert other.search(SearchQuery(text="机")).ids == [1]
    index.rebuild([ListingDocument(id=7, kind="offer", title="椅子", category="soil")])
    found = other.search(chairs)
    assert found.ids == [7] and found.facets == {"category": {"soil": 1}}
    # a process so far behind that the log no longer holds its changes reloads
    monkeypatch.setattr(embedded, "LOG_KEEP", 1)
    before = other._columns_held
    for n in range(1000):  # the log is trimmed at every 1000th change
        index.upsert([ListingDocument(id=100 + n, kind="offer", title="椅子")])
    assert other.search(SearchQuery(text="椅子", per_page=1)).total == 1001
    assert other._columns_held is not before


def test_a_listing_written_again_is_ranked_by_its_new_title(index, monkeypatch):
    monkeypatch.setattr(_words, "WORD_HITS", 1)
    old, new = datetime(2025, 1, 1), datetime(2025, 2, 1)
    index.upsert(
        [
            ListingDocument(id=1, kind="offer", title="椅子", created_at=old),
            ListingDocument(id=2, kind="offer", title="机", description="椅子付き", created_at=new),
        ]
    )
    chairs = SearchQuery(text="椅子")
    assert index.search(chairs).ids == [1, 2]  # in the title first, then the newest
    index.upsert([ListingDocument(id=2, kind="offer", title="椅子と机", created_at=new)])
    assert index.search(chairs).ids == [2, 1]
    index.upsert([ListingDocument(id=2, kind="offer", title="机", created_at=new)])
    assert index.search(chairs).ids == [1]


def test_a_search_without_words_is_kept_only_until_the_next_write(index, engine):
    other = make_index(engine, "embedded", name=index.name)  # another process's object
    everything = SearchQuery(facets=("category",), per_page=1)
    index.upsert([ListingDocument(id=1, kind="offer", title="椅子", category="furniture")])
    for searcher in (index, other, other):  # the second time from memory
        found = searcher.search(everything)
        assert (found.ids, found.total, found.facets) == ([1], 1, {"category": {"furniture": 1}})
    index.upsert([ListingDocument(id=2, kind="offer", title="鉄くず", category="metal")])
    found = other.search(everything)
    assert found.total == 2 and found.facets == {"category": {"furniture": 1, "metal": 1}}
    assert [
        other.search(SearchQuery(facets=("category",), per_page=1, page=n)).ids for n in (1, 2)
    ] == [[2], [1]]
    index.delete([2])
    assert other.search(everything).total == 1


def test_a_saved_listing_is_found_and_a_closed_one_disappears_at_once(index, engine):
    """Read-your-writes with one round trip a search: the page is ranked on the columns
    as they are and read with the change clock, then ranked again if another process
    (or this one) wrote since."""
    other = make_index(engine, "embedded", name=index.name)  # another process's object
    chairs = SearchQuery(text="椅子", facets=("category",))
    assert other.search(chairs).ids == []  # columns loaded, 椅子's ids kept
    for writer in (index, other):
        writer.upsert([ListingDocument(id=1, kind="offer", title="椅子", category="furniture")])
        for searcher in (index, other):
            found = searcher.search(chairs)
            assert found.ids == [1] and found.facets == {"category": {"furniture": 1}}
            assert found.hits[0].document.title == "椅子"
        writer.upsert([ListingDocument(id=1, kind="offer", title="椅子", status="closed")])
        for searcher in (index, other):
            assert searcher.search(chairs).total == 0
            assert searcher.search(SearchQuery(text="chairs")).ids == []
    index.upsert([ListingDocument(id=2, kind="offer", title="zelkova table")])
    assert other.search(SearchQuery(text="zelkova")).ids == [2]  # not "corrected" away


def test_a_new_process_reuses_the_common_words_ids(index, engine, monkeypatch):
    monkeypatch.setattr(_words, "WORD_HITS", 2)
    index.upsert([ListingDocument(id=i, kind="offer", title="椅子") for i in range(1, 4)])
    chairs = SearchQuery(text="椅子")
    assert index.search(chairs).total == 3  # read from the inverted index, persisted
    index.upsert([ListingDocument(id=9, kind="offer", title="椅子"), *[]])
    index.delete([2])
    read = []
    real = _sync.term_ids
    monkeypatch.setattr(
        _sync, "term_ids", lambda *a: read.append(a[3]) or real(*a)
    )  # what a new process asks of the inverted index
    fresh = make_index(engine, "embedded", name=index.name)
    fresh.warm(background=False)
    assert fresh.search(chairs).ids == [9, 3, 1]
    assert read == [[2, 9]]  # only the listings changed since the ids were written
    index.rebuild([ListingDocument(id=7, kind="offer", title="椅子")])  # a new build
    assert make_index(engine, "embedded", name=index.name).search(chairs).ids == [7]


def test_while_the_columns_load_in_the_background_sql_answers(index, engine, monkeypatch):
    index.upsert([ListingDocument(id=1, kind="offer", title="椅子", category="furniture")])
    loading = embedded.threading.Event()
    real = _sync.load
    monkeypatch.setattr(_sync, "load", lambda *a: loading.wait(10) and real(*a))
    warmed = make_index(engine, "embedded", name=index.name)
    thread = warmed.warm()
    chairs = SearchQuery(text="椅子", facets=("category",))
    found = warmed.search(chairs)  # answered by one SQL statement, not held up
    assert warmed._columns_held is None
    assert (found.ids, found.facets) == ([1], {"category": {"furniture": 1}})
    assert warmed.count(chairs) == 1
    loading.set()
    thread.join(10)
    assert warmed._columns_held is not None and warmed.search(chairs).ids == [1]
