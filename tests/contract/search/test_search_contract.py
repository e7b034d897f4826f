"""Behaviour every SearchIndex backend must share, as a user of the marketplace sees it."""

from dataclasses import replace
from datetime import date, datetime

import pytest

from search import ListingDocument, SearchQuery, SearchResults, verify
from search.geo import haversine_km

TOKYO = (35.681, 139.767)


def listing(id, title, **fields):
    fields.setdefault("kind", "offer")
    fields.setdefault("created_at", datetime(2025, 1, id))
    return ListingDocument(id=id, title=title, **fields)


CORPUS = [
    listing(
        1,
        "中古の椅子 20脚",
        description="会議室で使っていた椅子です",
        org_name="めぐり商事",
        category="家具",
        prefecture="東京都",
        municipality_code="13101",
        price_per_unit=500,
        unit="脚",
        quantity=20,
        lat=35.69,
        lon=139.77,
        window_start=date(2025, 4, 1),
        window_end=date(2025, 6, 30),
    ),
    listing(
        2,
        "建設発生土砂 第2種",
        description="掘削で出た土砂を無償でお譲りします",
        category="土砂",
        soil_class="第2種建設発生土",
        prefecture="埼玉県",
        municipality_code="11100",
        price_per_unit=0,
        unit="m3",
        quantity=800,
        lat=35.906,
        lon=139.624,
        window_start=date(2025, 5, 1),
        window_end=date(2025, 5, 31),
    ),
    listing(
        3,
        "再生砕石 RC-40",
        description="コンクリート塊を破砕した再生材",
        category="砕石",
        grade="RC-40",
        prefecture="神奈川県",
        municipality_code="14100",
        price_per_unit=1500,
        unit="t",
        lat=35.444,
        lon=139.638,
    ),
    listing(
        4,
        "事務用家具一式",
        description="机と棚のセット",
        category="家具",
        prefecture="千葉県",
        municipality_code="12100",
        price_per_unit=20000,
        lat=35.607,
        lon=140.106,
        window_start=date(2024, 1, 1),
        window_end=date(2024, 3, 31),
    ),
    listing(
        5,
        "Crushed concrete RC-40 wanted",
        description="We buy recycled aggregate",
        kind="wanted",
        category="砕石",
        prefecture="大阪府",
        municipality_code="27100",
        lat=34.702,
        lon=135.495,
    ),
    listing(
        6,
        "ｺﾝｸﾘｰﾄ塊 引取り",
        description="解体現場から",
        category="がれき",
        prefecture="大阪府",
        municipality_code="27100",
        price_per_unit=800,
        lat=34.70,
        lon=135.50,
        window_start=date(2025, 7, 1),
    ),
    listing(
        7, "鉄くず Steel scrap", description="位置未登録", category="金属", prefecture="北海道"
    ),
    listing(8, "非公開の椅子", description="下書き", category="家具", status="draft"),
    listing(9, "売約済みの砕石", category="砕石", status="closed"),
]
OPEN_IDS = {1, 2, 3, 4, 5, 6, 7}


@pytest.fixture
def index(search_index):
    search_index.upsert(CORPUS, wait=True)
    return search_index


def ids(results: SearchResults) -> set[int]:
    return set(results.ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("椅子", {1}),
        ("土砂", {2}),
        ("砕石", {3, 5}),  # 5 has it as its category
        ("家具", {1, 4}),
        ("再生砕石", {3}),
        ("ＲＣ－４０", {3, 5}),
        ("rc-40", {3, 5}),
        ("CONCRETE", {5}),
        ("コンクリート", {3, 6}),
        ("ｺﾝｸﾘｰﾄ", {3, 6}),
        ("めぐり商事", {1}),
    ],
)
def test_text_finds_japanese_and_english_words(index, text, expected):
    assert ids(index.search(SearchQuery(text=text))) == expected


def test_unknown_words_find_nothing(index):
    assert index.search(SearchQuery(text="xylophone")).total == 0


def test_drafts_and_closed_listings_are_never_indexed(index):
    assert index.count() == len(OPEN_IDS)
    assert ids(index.search(SearchQuery(per_page=100))) == OPEN_IDS
    assert 8 not in ids(index.search(SearchQuery(text="非公開")))


def test_closing_a_listing_removes_it(index):
    index.upsert([replace(CORPUS[0], status="closed")], wait=True)
    assert index.search(SearchQuery(text="椅子")).total == 0
    assert index.count() == len(OPEN_IDS) - 1


def test_upsert_replaces_content(index):
    index.upsert([replace(CORPUS[0], title="木製テーブル")], wait=True)
    assert index.search(SearchQuery(text="椅子")).ids == [1]  # still in the description
    assert index.search(SearchQuery(text="テーブル")).ids == [1]
    assert index.search(SearchQuery(text="テーブル")).hits[0].document == replace(
        CORPUS[0], title="木製テーブル"
    )


def test_a_listing_that_moves_is_found_only_at_its_new_place(index):
    osaka = (34.69, 135.50)
    index.upsert([replace(CORPUS[0], lat=osaka[0], lon=osaka[1])], wait=True)
    near_tokyo = SearchQuery(text="椅子", near=TOKYO, radius_km=20)
    near_osaka = SearchQuery(text="椅子", near=osaka, radius_km=20)
    assert index.search(near_tokyo).ids == []
    assert index.search(near_osaka).ids == [1]
    assert index.count() == len(OPEN_IDS)
    index.delete([1], wait=True)
    assert index.search(near_osaka).ids == []
    assert index.search(SearchQuery(text="椅子")).total == 0


def test_delete(index):
    index.delete([1, 2, 999], wait=True)
    assert ids(index.search(SearchQuery(per_page=100))) == OPEN_IDS - {1, 2}


def test_hits_carry_the_public_document(index):
    hit = index.search(SearchQuery(text="土砂")).hits[0]
    assert hit.document == CORPUS[1]


def test_facet_filters_or_within_and_across(index):
    q = SearchQuery(filters={"category": ["家具"]})
    assert ids(index.search(q)) == {1, 4}
    q = SearchQuery(filters={"category": ["家具", "土砂"], "prefecture": ["東京都", "埼玉県"]})
    assert ids(index.search(q)) == {1, 2}
    q = SearchQuery(text="家具", filters={"prefecture": ["千葉県"]})
    assert ids(index.search(q)) == {4}
    assert ids(index.search(SearchQuery(filters={"kind": ["wanted"]}))) == {5}
    assert ids(index.search(SearchQuery(filters={"soil_class": ["第2種建設発生土"]}))) == {2}
    assert ids(index.search(SearchQuery(filters={"municipality_code": ["27100"]}))) == {5, 6}


def test_facet_counts_follow_the_filters(index):
    results = index.search(SearchQuery(facets=["category", "prefecture"]))
    assert results.facets["category"] == {"家具": 2, "砕石": 2, "土砂": 1, "がれき": 1, "金属": 1}
    assert results.facets["prefecture"]["大阪府"] == 2
    results = index.search(SearchQuery(text="砕石", facets=["prefecture", "status"]))
    assert results.facets == {"prefecture": {"大阪府": 1, "神奈川県": 1}, "status": {"open": 2}}


def test_within_radius_sorted_by_distance(index):
    results = index.search(SearchQuery(near=TOKYO, radius_km=40, sort="distance"))
    assert results.ids[0] == 1
    assert set(results.ids) == {1, 2, 3, 4}
    distances = [hit.distance_km for hit in results.hits]
    assert distances == sorted(distances)
    for hit in results.hits:
        assert hit.distance_km == pytest.approx(
            haversine_km(*TOKYO, hit.document.lat, hit.document.lon), abs=0.01
        )
        assert hit.distance_km <= 40
    assert index.search(SearchQuery(near=TOKYO, radius_km=5)).ids == [1]


def test_distance_sort_without_radius_puts_unplaced_listings_last(index):
    results = index.search(SearchQuery(near=TOKYO, sort="distance", per_page=100))
    assert results.ids[:4] == [1, 2, 3, 4] or results.ids[:4] == [1, 3, 2, 4]
    assert results.ids[-1] == 7
    assert results.hits[-1].distance_km is None


def test_text_facet_and_geo_together(index):
    q = SearchQuery(
        text="家具", filters={"category": ["家具"]}, near=TOKYO, radius_km=50, sort="distance"
    )
    assert index.search(q).ids == [1, 4]


def test_price_range_and_sorts(index):
    assert ids(index.search(SearchQuery(price_min=100, price_max=2000))) == {1, 3, 6}
    assert ids(index.search(SearchQuery(price_max=0))) == {2}
    assert index.search(SearchQuery(sort="price_asc", per_page=5)).ids == [2, 1, 6, 3, 4]
    assert index.search(SearchQuery(sort="price_desc", per_page=5)).ids == [4, 3, 6, 1, 2]


def test_window_overlap_treats_missing_bounds_as_open(index):
    q = SearchQuery(window_from=date(2025, 5, 10), window_to=date(2025, 5, 20), per_page=100)
    assert ids(index.search(q)) == OPEN_IDS - {4, 6}


def test_newest_first_and_paging(index):
    assert index.search(SearchQuery(sort="newest", per_page=3)).ids == [7, 6, 5]
    seen = []
    for page in range(1, 5):
        results = index.search(SearchQuery(sort="newest", per_page=2, page=page))
        assert results.total == len(OPEN_IDS)
        assert results.pages == 4
        seen += results.ids
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    beyond = index.search(SearchQuery(per_page=2, page=50))
    assert beyond.hits == [] and beyond.total == len(OPEN_IDS)


def test_count(index):
    assert index.count() == len(OPEN_IDS)
    assert index.count(SearchQuery(text="家具")) == 2
    assert index.count(SearchQuery(near=TOKYO, radius_km=40)) == 4


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "*",
        "(",
        ")",
        "NEAR",
        "OR",
        "-",
        '"椅子',
        "椅子*",
        "(椅子 OR 家具)",
        "-椅子",
        "NEAR(椅子 家具)",
        "椅子 AND",
        "^",
        ":",
        "title:椅子",
        "'; DROP TABLE x; --",
        "",
        "   ",
        "\x00",
        "🙂",
        "椅子" * 5000,
        "a" * 10_000,
    ],
)
def test_any_text_gets_results_not_a_crash(index, text):
    results = index.search(SearchQuery(text=text, facets=["category"], near=TOKYO))
    assert isinstance(results, SearchResults)
    assert results.total >= len(results.hits)


def test_syntax_characters_are_plain_text(index):
    assert ids(index.search(SearchQuery(text='"椅子'))) == {1}
    assert ids(index.search(SearchQuery(text="椅子*"))) == {1}
    assert ids(index.search(SearchQuery(text="-椅子"))) == {1}
    assert ids(index.search(SearchQuery(text="(土砂)"))) == {2}


def test_rebuild_swaps_in_a_complete_new_index(index):
    fresh = [replace(CORPUS[0], title="新しい椅子"), CORPUS[2], CORPUS[7]]
    assert index.rebuild(fresh) == 2
    assert ids(index.search(SearchQuery(per_page=100))) == {1, 3}
    assert index.search(SearchQuery(text="新しい")).ids == [1]
    assert index.search(SearchQuery(text="土砂")).total == 0
    # and the rebuilt index takes writes as usual
    index.upsert([CORPUS[1]], wait=True)
    assert index.search(SearchQuery(text="土砂")).ids == [2]
    assert index.rebuild(CORPUS) == len(OPEN_IDS)
    assert index.count() == len(OPEN_IDS)


def test_verify_reports_and_repairs_differences(index):
    assert verify(index, CORPUS).in_sync
    database = [replace(CORPUS[0], price_per_unit=450), *CORPUS[1:6], CORPUS[7]]
    database.append(listing(10, "新着の家具", category="家具"))
    index.delete([2], wait=True)
    report = verify(index, database)
    assert (report.missing, report.stale, report.extra) == ([2, 10], [1], [7])
    assert not report.in_sync and not report.repaired
    repaired = verify(index, database, repair=True)
    assert repaired.repaired
    assert verify(index, database).in_sync
    assert index.search(SearchQuery(text="新着")).ids == [10]
    assert index.search(SearchQuery(text="椅子")).hits[0].document.price_per_unit == 450


def test_relevance_puts_title_matches_first(index):
    assert index.search(SearchQuery(text="家具")).ids == [4, 1]  # 1 has it as category only
    assert index.search(SearchQuery(text="コンクリート")).ids == [6, 3]  # 3 in description
    near_osaka = SearchQuery(text="rc-40", near=(34.70, 135.50))
    assert index.search(near_osaka).ids == [3, 5] or index.search(near_osaka).ids == [5, 3]


def test_backend_implements_the_protocol(search_index):
    from search import SearchIndex

    assert isinstance(search_index, SearchIndex)
