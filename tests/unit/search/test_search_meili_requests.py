"""Request shapes the Meilisearch adapter sends, captured by a fake HTTP transport (the
`requests` adapter layer, below the official client) and checked against the
documented API: routes, methods and bodies of settings, documents, search and swap."""

import json
import re
from datetime import date, datetime
from urllib.parse import urlsplit

import pytest
import requests

from search import ListingDocument, SearchBackendError, SearchQuery, make_index
from search.meili import PUBLIC_FIELDS

# https://www.meilisearch.com/docs/reference/api/settings — the body of PATCH /settings
DOCUMENTED_SETTINGS = {
    "displayedAttributes", "searchableAttributes", "filterableAttributes",
    "sortableAttributes", "rankingRules", "stopWords", "nonSeparatorTokens",
    "separatorTokens", "dictionary", "synonyms", "distinctAttribute", "typoTolerance",
    "faceting", "pagination", "proximityPrecision", "facetSearch", "prefixSearch",
    "embedders", "searchCutoffMs", "localizedAttributes",
}  # fmt: skip
DOCUMENTED_RANKING_RULES = {"words", "typo", "proximity", "attribute", "sort", "exactness"}
DOCUMENTED_SEARCH_PARAMS = {
    "q", "offset", "limit", "hitsPerPage", "page", "filter", "facets", "distinct",
    "attributesToRetrieve", "attributesToCrop", "cropLength", "cropMarker",
    "attributesToHighlight", "highlightPreTag", "highlightPostTag", "showMatchesPosition",
    "sort", "matchingStrategy", "showRankingScore", "showRankingScoreDetails",
    "rankingScoreThreshold", "attributesToSearchOn", "hybrid", "vector", "retrieveVectors",
    "locales",
}  # fmt: skip
STAMP = "2025-01-01T00:00:00.000000Z"


class FakeMeili:
    """Just enough of the Meilisearch HTTP API to drive the client; records requests."""

    def __init__(self):
        self.requests = []  # (method, path, query, body)
        self.next_task = 0
        self.task_index = {}
        self.failures = {}  # (method, path) -> error code for the task it enqueues
        self.search_response = {"hits": [], "totalHits": 0, "facetDistribution": {}}
        self.documents = []
        self.synonyms = {}

    def task(self, index_uid, kind, path, method):
        self.next_task += 1
        self.task_index[self.next_task] = (index_uid, kind, self.failures.get((method, path)))
        return 202, {
            "taskUid": self.next_task, "indexUid": index_uid, "status": "enqueued",
            "type": kind, "enqueuedAt": STAMP,
        }  # fmt: skip

    def handle(self, method, path, query, body):
        self.requests.append((method, path, query, body))
        if m := re.fullmatch(r"/tasks/(\d+)", path):
            uid = int(m.group(1))
            index_uid, kind, failure = self.task_index[uid]
            task = {"uid": uid, "indexUid": index_uid, "type": kind, "enqueuedAt": STAMP}
            if failure:
                task.update(status="failed", error={"code": failure, "message": failure})
            else:
                task["status"] = "succeeded"
            return 200, task
        if path == "/indexes" and method == "POST":
            return self.task(body["uid"], "indexCreation", path, method)
        if path == "/swap-indexes":
            return self.task(None, "indexSwap", path, method)
        m = re.fullmatch(r"/indexes/([^/]+)(/.*)?", path)
        uid, rest = m.group(1), m.group(2) or ""
        if method == "DELETE" and rest == "":
            return self.task(uid, "indexDeletion", path, method)
        if rest == "/settings":
            return self.task(uid, "settingsUpdate", path, method)
        if rest == "/settings/synonyms" and method == "GET":
            return 200, self.synonyms
        if rest == "/settings/synonyms" and method == "PUT":
            self.synonyms = body
            return self.task(uid, "settingsUpdate", path, method)
        if rest == "/documents" and method == "POST":
            return self.task(uid, "documentAdditionOrUpdate", path, method)
        if rest == "/documents/delete":
            return self.task(uid, "documentDeletion", path, method)
        if rest == "/documents/fetch":
            start, limit = body.get("offset", 0), body.get("limit", 20)
            chunk = self.documents[start : start + limit]
            return 200, {"results": chunk, "offset": start, "limit": limit,
                         "total": len(self.documents)}  # fmt: skip
        if rest == "/search":
            return 200, self.search_response
        if rest == "/stats":
            return 200, {"numberOfDocuments": 7, "isIndexing": False, "fieldDistribution": {}}
        raise AssertionError(f"unexpected request {method} {path}")

    def of(self, method, path_pattern):
        return [r for r in self.requests if r[0] == method and re.fullmatch(path_pattern, r[1])]


@pytest.fixture
def fake(monkeypatch):
    server = FakeMeili()

    def send(adapter, request, **kwargs):
        parts = urlsplit(request.url)
        assert parts.netloc == "meili.test"
        assert request.headers["Authorization"] == "Bearer test-key"
        body = json.loads(request.body) if request.body else None
        status, payload = server.handle(request.method, parts.path, parts.query, body)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.headers["Content-Type"] = "application/json"
        response.url, response.request = request.url, request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return server


@pytest.fixture
def index(fake):
    return make_index("http://meili.test", "meilisearch", api_key="test-key")


CHAIR = ListingDocument(
    id=1, kind="offer", title="中古の椅子 ＲＣ－４０", description="会議室の椅子",
    org_name="めぐり商事", prefecture="東京都", category="家具", price_per_unit=500,
    quantity=20, lat=35.69, lon=139.77, window_start=date(2025, 4, 1),
    created_at=datetime(2025, 1, 1, 9, 0),
)  # fmt: skip


def test_ensure_creates_the_index_and_applies_documented_settings(index, fake):
    index.ensure()
    (create,) = fake.of("POST", "/indexes")
    assert create[3] == {"uid": "listings", "primaryKey": "id"}
    (settings,) = fake.of("PATCH", "/indexes/listings/settings")
    body = settings[3]
    assert set(body) <= DOCUMENTED_SETTINGS
    assert set(body["rankingRules"]) == DOCUMENTED_RANKING_RULES
    assert body["searchableAttributes"] == ["search_title", "search_body", "search_reading"]
    assert {"_geo", "id", "kind", "soil_class", "grade", "category", "prefecture",
            "municipality_code", "status", "price_per_unit", "window_start_day",
            "window_end_day"} <= set(body["filterableAttributes"])  # fmt: skip
    assert {"_geo", "price_per_unit", "created_ts"} <= set(body["sortableAttributes"])
    # https://www.meilisearch.com/docs/reference/api/settings#typo-tolerance
    assert body["typoTolerance"] == {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnNumbers": True,
        "disableOnAttributes": ["search_reading"],
    }
    assert body["localizedAttributes"] == [
        {"attributePatterns": ["search_title", "search_body"], "locales": ["jpn", "eng"]},
        {"attributePatterns": ["search_reading"], "locales": ["jpn"]},
    ]
    assert "synonyms" not in body  # set apart, so ensure() never resets them
    # nothing private can be displayed: only the document's public fields and the hash
    assert set(body["displayedAttributes"]) == {*PUBLIC_FIELDS, "content_hash"}
    # each write waited on its task before the next step
    assert len(fake.of("GET", r"/tasks/\d+")) == 2


def test_ensure_tolerates_an_existing_index(index, fake):
    fake.failures[("POST", "/indexes")] = "index_already_exists"
    index.ensure()
    assert fake.of("PATCH", "/indexes/listings/settings")


def test_failed_task_raises(index, fake):
    fake.failures[("PATCH", "/indexes/listings/settings")] = "invalid_settings_ranking_rules"
    with pytest.raises(SearchBackendError, match="invalid_settings_ranking_rules"):
        index.ensure()


def test_upsert_sends_public_documents_with_geo_and_removes_closed_ones(index, fake):
    draft = ListingDocument(id=8, kind="offer", title="下書き", status="draft")
    assert index.upsert([CHAIR, draft], wait=True) == 1
    (add,) = fake.of("POST", "/indexes/listings/documents")
    assert add[2] == "primaryKey=id"
    (document,) = add[3]
    assert document["_geo"] == {"lat": 35.69, "lng": 139.77}
    assert document["search_title"] == "中古の椅子 rc 40"  # NFKC, letters and digits apart
    reading = document["search_reading"]  # each word's reading, then each run's whole
    assert (
        reading.startswith("チュウコ ノ イス カイギ シツ ノ イス") and " チュウコノイス " in reading
    )
    assert document["window_start_day"] == date(2025, 4, 1).toordinal()
    assert document["window_end_day"] == 10_000_000  # open-ended window
    assert document["created_ts"] == CHAIR.created_ts  # naive datetimes are UTC
    assert set(document) <= {*PUBLIC_FIELDS, "_geo", "search_title", "search_body",
                             "search_reading", "window_start_day", "window_end_day", "created_ts",
                             "content_hash"}  # fmt: skip
    (delete,) = fake.of("POST", "/indexes/listings/documents/delete")
    assert delete[3] == {"filter": "id IN [8]"}
    assert len(fake.of("GET", r"/tasks/\d+")) == 2  # waited for both


def test_upsert_without_wait_does_not_poll(index, fake):
    index.upsert([CHAIR], wait=False)
    assert fake.of("POST", "/indexes/listings/documents")
    assert not fake.of("GET", r"/tasks/\d+")


def test_search_payload(index, fake):
    query = SearchQuery(
        text='"椅子" ＲＣ－４０ -(x)*',
        filters={"category": ["家具", 'say "hi"'], "prefecture": ["東京都"]},
        price_min=100, price_max=2000, window_from=date(2025, 5, 1),
        window_to=date(2025, 5, 31), near=(35.681, 139.767), radius_km=12.5,
        sort="distance", facets=["category", "prefecture"], page=2, per_page=10,
    )  # fmt: skip
    index.search(query)
    (search,) = fake.of("POST", "/indexes/listings/search")
    body = search[3]
    assert set(body) <= DOCUMENTED_SEARCH_PARAMS
    assert body["q"] == "椅子 rc 40 x"  # no syntax characters reach the engine
    assert body["filter"] == [
        'category IN ["家具", "say \\"hi\\""]',
        'prefecture IN ["東京都"]',
        "price_per_unit >= 100",
        "price_per_unit <= 2000",
        f"window_start_day <= {date(2025, 5, 31).toordinal()}",
        f"window_end_day >= {date(2025, 5, 1).toordinal()}",
        "_geoRadius(35.681, 139.767, 12500)",
    ]
    assert body["sort"] == ["_geoPoint(35.681, 139.767):asc", "id:asc"]
    assert body["facets"] == ["category", "prefecture"]
    assert (body["page"], body["hitsPerPage"]) == (2, 10)
    assert body["matchingStrategy"] == "all"
    assert body["locales"] == ["jpn", "eng"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["price_per_unit:asc", "id:asc"]),
        ("price_desc", ["price_per_unit:desc", "id:asc"]),
        ("newest", ["created_ts:desc", "id:desc"]),
        ("relevance", None),
    ],
)
def test_sorts(index, fake, sort, expected):
    index.search(SearchQuery(text="椅子", sort=sort))
    assert fake.of("POST", "/indexes/listings/search")[0][3].get("sort") == expected


def test_search_results_are_mapped_back(index, fake):
    from search.meili import to_meili_document

    stored = to_meili_document(CHAIR)
    fake.search_response = {
        "hits": [{k: stored[k] for k in PUBLIC_FIELDS if k in stored} | {"_rankingScore": 0.9}],
        "totalHits": 31,
        "facetDistribution": {"category": {"家具": 1, "砕石": 30}},
    }
    results = index.search(SearchQuery(text="椅子", near=(35.681, 139.767), facets=["category"]))
    assert results.total == 31 and results.pages == 2
    assert results.hits[0].document == CHAIR
    assert results.hits[0].distance_km == pytest.approx(1.0, abs=0.2)
    assert results.facets == {"category": {"砕石": 30, "家具": 1}}


def test_rebuild_builds_beside_and_swaps(index, fake):
    fake.synonyms = {"残土": ["発生土"]}
    assert index.rebuild([CHAIR]) == 1
    creates = [r[3]["uid"] for r in fake.of("POST", "/indexes")]
    fresh = creates[-1]
    assert fresh.startswith("listings__rebuild_") and "listings" in creates
    (settings,) = fake.of("PATCH", f"/indexes/{fresh}/settings")
    assert settings[3]["synonyms"] == {"残土": ["発生土"]}  # the live index's synonyms
    assert fake.of("POST", f"/indexes/{fresh}/documents")
    (swap,) = fake.of("POST", "/swap-indexes")
    assert swap[3] == [{"indexes": ["listings", fresh]}]
    order = [(m, p) for m, p, _, _ in fake.requests if not p.startswith("/tasks")]
    assert order.index(("POST", "/swap-indexes")) < order.index(("DELETE", f"/indexes/{fresh}"))


def test_fingerprints_page_through_documents(index, fake):
    fake.documents = [{"id": i, "content_hash": f"h{i}"} for i in range(25_000)]
    assert index.fingerprints() == {i: f"h{i}" for i in range(25_000)}
    fetches = fake.of("POST", "/indexes/listings/documents/fetch")
    assert [f[3]["offset"] for f in fetches] == [0, 10_000, 20_000]
    assert fetches[0][3]["fields"] == ["id", "content_hash"]


def test_count(index, fake):
    fake.search_response = {"hits": [], "totalHits": 4}
    assert index.count(SearchQuery(text="椅子")) == 4
    assert index.count() == 7


def test_unreachable_server_is_a_backend_error(monkeypatch):
    def refuse(adapter, request, **kwargs):
        raise requests.exceptions.ConnectionError("refused")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    index = make_index("http://meili.test", "meilisearch", api_key="test-key")
    with pytest.raises(SearchBackendError):
        index.search(SearchQuery(text="椅子"))


def test_synonyms_are_pushed_with_their_readings(index, fake):
    from search.synonyms import SynonymGroup, Synonyms

    synonyms = Synonyms(
        [SynonymGroup(("発生土", "残土")), SynonymGroup(("ガラ", "コンクリート塊"), mutual=False)]
    )
    index.set_synonyms(synonyms)
    (put,) = fake.of("PUT", "/indexes/listings/settings/synonyms")
    # https://www.meilisearch.com/docs/reference/api/settings#synonyms: word -> words
    assert put[3] == {
        "発生土": ["残土"],
        "ハッセイド": ["発生土", "残土"],
        "残土": ["発生土"],
        "ザンド": ["残土", "発生土"],
        "ガラ": ["コンクリート塊"],
    }
    assert fake.of("GET", r"/tasks/\d+")  # waited for the task


@pytest.mark.parametrize(
    ("typed", "sent"),
    [("いす", "イス"), ("RC40", "rc 40"), ("rc-40", "rc 40"), ("第２ａ種", "第 2 a 種"),
     ("中古の椅子", "中古の椅子"), ("ｺﾝｸﾘｰﾄ", "コンクリト")],
)  # fmt: skip
def test_query_words_reach_meilisearch_in_the_documents_forms(index, fake, typed, sent):
    index.search(SearchQuery(text=typed))
    assert fake.of("POST", "/indexes/listings/search")[0][3]["q"] == sent
