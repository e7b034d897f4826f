"""Meilisearch adapter: the same SearchIndex contract on a Meilisearch server, through
the official Python client. Writes are asynchronous tasks there; `wait=True` blocks
until the task has been applied, which is what gives callers read-your-writes."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import date
from itertools import islice
from typing import Any

import meilisearch
from meilisearch.errors import MeilisearchApiError, MeilisearchError

from .analysis import nfkc
from .documents import (
    DEFAULT_INDEXABLE_STATUSES,
    FACETS,
    ListingDocument,
    SearchBackendError,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from .geo import haversine_km
from .synonyms import Synonyms
from .text import analyse, parts, plain_query, runs

PUBLIC_FIELDS = tuple(ListingDocument.__dataclass_fields__)
NO_END_DAY = 10_000_000  # beyond date.max.toordinal(); "window never ends"
LOCALES = ["jpn", "eng"]


def index_settings(max_total_hits: int = 200_000) -> dict[str, Any]:
    """Settings applied by ensure(). Search runs on our own normalised copies of the
    text (search_title, search_body: NFKC, letters and digits apart, so ＲＣ－４０, rc40 and
    rc-40 index alike, as embedded) and the readings (search_reading, katakana: kana-only
    query words are sent as katakana). Synonyms are set apart (set_synonyms)."""
    return {
        "searchableAttributes": ["search_title", "search_body", "search_reading"],
        "displayedAttributes": [*PUBLIC_FIELDS, "content_hash"],
        "filterableAttributes": [
            "id",
            *FACETS,
            "price_per_unit",
            "window_start_day",
            "window_end_day",
            "_geo",
        ],
        "sortableAttributes": ["id", "price_per_unit", "created_ts", "_geo"],
        # "sort" first: an explicit sort (distance, price, newest) decides the order, as
        # in the embedded engine; with no sort requested the rule does nothing.
        "rankingRules": ["sort", "words", "typo", "proximity", "attribute", "exactness"],
        # As the embedded engine: one typo from 5 letters, two from 9; never in numbers
        # (RC-40 must not find RC-30) nor in readings (a typo in kana is another word).
        "typoTolerance": {
            "enabled": True,
            "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
            "disableOnNumbers": True,
            "disableOnAttributes": ["search_reading"],
        },
        "localizedAttributes": [
            {"attributePatterns": ["search_title", "search_body"], "locales": LOCALES},
            {"attributePatterns": ["search_reading"], "locales": ["jpn"]},
        ],
        "pagination": {"maxTotalHits": max_total_hits},
        "faceting": {"maxValuesPerFacet": 2000, "sortFacetValuesBy": {"*": "count"}},
    }


def search_text(text: str) -> str:
    """What Meilisearch indexes of a text: its CJK runs as written (NFKC, so its own
    Japanese segmenter sees real words), letters and digits apart (rc 40)."""
    return " ".join(run if cjk else " ".join(parts(run)) for cjk, run in runs(nfkc(text)))


def to_meili_document(document: ListingDocument) -> dict[str, Any]:
    payload = {k: v for k, v in document.to_json_dict().items() if v is not None}
    title, body = analyse(document.title), analyse(document.searchable_body())
    payload["search_title"] = search_text(document.title)
    payload["search_body"] = " ".join(
        t
        for t in (search_text(document.searchable_body()), title.variant_text, body.variant_text)
        if t
    )
    # each word's reading, and each run's whole (ハッセイ ド and ハッセイド): a kana
    # query word is one word, spanning dictionary words or not
    runs_read = [r for r in (*title.reading_runs, *body.reading_runs) if " " not in r]
    payload["search_reading"] = " ".join(
        t for t in (title.reading_text, body.reading_text, " ".join(dict.fromkeys(runs_read))) if t
    )
    payload["window_start_day"] = document.window_start.toordinal() if document.window_start else 0
    payload["window_end_day"] = (
        document.window_end.toordinal() if document.window_end else NO_END_DAY
    )
    if document.created_ts is not None:
        payload["created_ts"] = document.created_ts
    if document.lat is not None and document.lon is not None:
        payload["_geo"] = {"lat": document.lat, "lng": document.lon}
    payload["content_hash"] = document.content_hash()
    return payload


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day(value: date) -> int:
    return value.toordinal()


def search_params(query: SearchQuery) -> tuple[str, dict[str, Any]]:
    """(q, body) for POST /indexes/{uid}/search."""
    filters: list[str] = []
    for facet, values in query.filters.items():
        filters.append(f"{facet} IN [{', '.join(_quote(v) for v in values)}]")
    if query.price_min is not None:
        filters.append(f"price_per_unit >= {query.price_min}")
    if query.price_max is not None:
        filters.append(f"price_per_unit <= {query.price_max}")
    if query.window_to is not None:
        filters.append(f"window_start_day <= {_day(query.window_to)}")
    if query.window_from is not None:
        filters.append(f"window_end_day >= {_day(query.window_from)}")
    if query.radius_km is not None and query.near is not None:
        lat, lon = query.near
        filters.append(f"_geoRadius({lat!r}, {lon!r}, {round(query.radius_km * 1000)})")

    text = plain_query(query.text)
    sort: list[str] = []
    if query.sort == "distance" and query.near is not None:
        sort = [f"_geoPoint({query.near[0]!r}, {query.near[1]!r}):asc", "id:asc"]
    elif query.sort == "price_asc":
        sort = ["price_per_unit:asc", "id:asc"]
    elif query.sort == "price_desc":
        sort = ["price_per_unit:desc", "id:asc"]
    elif query.sort == "newest" or not text:
        sort = ["created_ts:desc", "id:desc"]

    body: dict[str, Any] = {
        "page": query.page,
        "hitsPerPage": query.per_page,
        "attributesToRetrieve": list(PUBLIC_FIELDS),
        "matchingStrategy": "all",  # every word must match, as in the embedded engine
        "locales": LOCALES,
    }
    if filters:
        body["filter"] = filters
    if sort:
        body["sort"] = sort
    if query.facets:
        body["facets"] = list(query.facets)
    if text:
        body["showRankingScore"] = True
    return text, body


def _chunks(items: Iterable, size: int):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class MeilisearchIndex:
    backend = "meilisearch"

    def __init__(
        self,
        client: meilisearch.Client | str,
        name: str = "listings",
        *,
        api_key: str | None = None,
        timeout: float | None = 10,
        wait_timeout_ms: int = 120_000,
        batch_size: int = 5000,
        max_total_hits: int = 200_000,
        indexable_statuses: Iterable[str] = DEFAULT_INDEXABLE_STATUSES,
    ) -> None:
        if isinstance(client, str):
            client = meilisearch.Client(client, api_key, timeout=timeout)
        self.client = client
        self.name = name
        self.uid = name
        self.wait_timeout_ms = wait_timeout_ms
        self.batch_size = batch_size
        self.max_total_hits = max_total_hits
        self.indexable_statuses = frozenset(indexable_statuses)

    def __repr__(self) -> str:
        return f"MeilisearchIndex({self.client.config.url!r}, {self.uid!r})"

    # -- plumbing ----------------------------------------------------------------------

    def _wait(self, task_uid: int, *, tolerate: tuple[str, ...] = ()) -> None:
        try:
            task = self.client.wait_for_task(
                task_uid, timeout_in_ms=self.wait_timeout_ms, interval_in_ms=20
            )
        except MeilisearchError as error:
            raise SearchBackendError(f"Meilisearch task {task_uid}: {error}") from error
        if task.status != "succeeded":
            code = (task.error or {}).get("code")
            if code not in tolerate:
                raise SearchBackendError(f"Meilisearch task {task_uid} {task.status}: {task.error}")

    def _call(self, action, *args, **kwargs):
        try:
            return action(*args, **kwargs)
        except MeilisearchError as error:
            raise SearchBackendError(f"Meilisearch: {error}") from error

    def _prepare(self, uid: str, synonyms: dict[str, list[str]] | None = None) -> None:
        """Create the index if missing and apply the settings, waiting for both."""
        task = self._call(self.client.create_index, uid, {"primaryKey": "id"})
        self._wait(task.task_uid, tolerate=("index_already_exists",))
        settings = index_settings(self.max_total_hits)
        if synonyms is not None:
            settings["synonyms"] = synonyms
        task = self._call(self.client.index(uid).update_settings, settings)
        self._wait(task.task_uid)

    def set_synonyms(self, synonyms: Synonyms) -> None:
        """PUT /indexes/{uid}/settings/synonyms: the server applies them to every query."""
        task = self._call(self.client.index(self.uid).update_synonyms, synonyms.meilisearch())
        self._wait(task.task_uid)

    # -- SearchIndex -------------------------------------------------------------------

    def ensure(self) -> None:
        self._prepare(self.uid)

    def warm(self) -> None:
        """Nothing to load: the server holds the index."""

    def drop(self) -> None:
        task = self._call(self.client.delete_index, self.uid)
        self._wait(task.task_uid, tolerate=("index_not_found",))

    def upsert(
        self,
        documents: Iterable[ListingDocument],
        *,
        wait: bool = True,
        versions: Mapping[int, int] | None = None,
    ) -> int:
        # Meilisearch applies tasks one at a time in the order they were sent, but cannot
        # compare `versions` atomically with what it holds: the app sends the writes of one
        # listing one after another instead (market/finder/index.py, deliver).
        index = self.client.index(self.uid)
        tasks: list[int] = []
        indexed = 0
        for chunk in _chunks(documents, self.batch_size):
            latest = {d.id: d for d in chunk}
            keep = [d for d in latest.values() if d.status in self.indexable_statuses]
            gone = [d.id for d in latest.values() if d.status not in self.indexable_statuses]
            if gone:
                tasks.append(self._delete_task(gone))
            if keep:
                payload = [to_meili_document(d) for d in keep]
                tasks.append(self._call(index.add_documents, payload, "id").task_uid)
                indexed += len(keep)
        if wait:
            for task_uid in tasks:
                self._wait(task_uid)
        return indexed

    def _delete_task(self, ids: list[int]) -> int:
        # delete by filter: the ids form of delete_documents is deprecated in the client
        id_filter = f"id IN [{', '.join(str(int(i)) for i in ids)}]"
        index = self.client.index(self.uid)
        return self._call(index.delete_documents, filter=id_filter).task_uid

    def delete(
        self, ids: Iterable[int], *, wait: bool = True, versions: Mapping[int, int] | None = None
    ) -> None:
        tasks = [self._delete_task(chunk) for chunk in _chunks(ids, self.batch_size)]
        if wait:
            for task_uid in tasks:
                self._wait(task_uid)

    def rebuild(self, documents: Iterable[ListingDocument]) -> int:
        fresh = f"{self.uid}__rebuild_{secrets.token_hex(4)}"
        indexed = 0
        try:
            self._prepare(self.uid)  # swapping needs both indexes to exist
            # the new index takes over the live one's synonyms
            self._prepare(fresh, self._call(self.client.index(self.uid).get_synonyms))
            index = self.client.index(fresh)
            tasks = []
            for chunk in _chunks(documents, self.batch_size):
                latest = {d.id: d for d in chunk if d.status in self.indexable_statuses}
                if latest:
                    payload = [to_meili_document(d) for d in latest.values()]
                    tasks.append(self._call(index.add_documents, payload, "id").task_uid)
                    indexed += len(latest)
            for task_uid in tasks:
                self._wait(task_uid)
            task = self._call(self.client.swap_indexes, [{"indexes": [self.uid, fresh]}])
            self._wait(task.task_uid)
        finally:
            # after the swap `fresh` holds the old documents; before it, a failed build
            task = self._call(self.client.delete_index, fresh)
            self._wait(task.task_uid, tolerate=("index_not_found",))
        return indexed

    def fingerprints(self) -> dict[int, str]:
        index = self.client.index(self.uid)
        found: dict[int, str] = {}
        offset = 0
        while True:
            page = self._call(
                index.get_documents,
                {"fields": ["id", "content_hash"], "limit": 10_000, "offset": offset},
            )
            for document in page.results:
                found[int(document.id)] = document.content_hash
            offset += len(page.results)
            if not page.results or offset >= page.total:
                return found

    def count(self, query: SearchQuery | None = None) -> int:
        if query is None:
            stats = self._call(self.client.index(self.uid).get_stats)
            return int(stats.number_of_documents)
        text, body = search_params(query)
        body.update(page=1, hitsPerPage=1, attributesToRetrieve=["id"])
        body.pop("facets", None)
        response = self._call(self.client.index(self.uid).search, text, body)
        return int(response["totalHits"])

    def search(self, query: SearchQuery) -> SearchResults:
        text, body = search_params(query)
        try:
            response = self.client.index(self.uid).search(text, body)
        except MeilisearchApiError as error:
            raise SearchBackendError(f"Meilisearch refused the search: {error}") from error
        except MeilisearchError as error:
            raise SearchBackendError(f"Meilisearch: {error}") from error
        hits = []
        for raw in response["hits"]:
            document = ListingDocument.from_json_dict(raw)
            distance = None
            if query.near is not None and document.lat is not None and document.lon is not None:
                distance = haversine_km(*query.near, document.lat, document.lon)
            hits.append(
                SearchHit(
                    id=document.id,
                    document=document,
                    distance_km=distance,
                    score=raw.get("_rankingScore"),
                )
            )
        distribution = response.get("facetDistribution") or {}
        facets = {
            facet: dict(sorted(distribution.get(facet, {}).items(), key=lambda kv: (-kv[1], kv[0])))
            for facet in query.facets
        }
        return SearchResults(
            hits=hits,
            total=int(response.get("totalHits", 0)),
            page=query.page,
            per_page=query.per_page,
            facets=facets,
        )
