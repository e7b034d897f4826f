"""The embedded engine in one SQL statement per search, without the columns in memory:
what a process answers while its columns load in the background (see EmbeddedIndex.warm)
and what the tests compare the columns with. `index` is the EmbeddedIndex."""

from __future__ import annotations

import json

from sqlalchemy.engine import Connection

from . import _query
from .documents import ListingDocument, SearchHit, SearchQuery, SearchResults
from .geo import haversine_km


def hit(query: SearchQuery, hit_id: int, data: dict) -> SearchHit:
    document = ListingDocument.from_json_dict(data)
    distance = None
    if query.near is not None and document.lat is not None and document.lon is not None:
        distance = haversine_km(*query.near, document.lat, document.lon)
    return SearchHit(id=hit_id, document=document, distance_km=distance)


def source(index, conn: Connection, query: SearchQuery):
    """(FROM clause, plan, terms)."""
    terms = index._terms(conn, query)
    planned = _query.plan(query, terms, index._sql.match)
    if not planned.narrowed:
        return f"{index.tables.keys} d", planned, terms
    return index._sql.candidates(index.tables, planned.params), planned, terms


def count(index, query: SearchQuery | None = None) -> int:
    with index.engine.connect() as conn:
        clause, planned, _ = source(index, conn, query or SearchQuery())
        sql = f"SELECT count(*) FROM {clause}"
        if planned.where:
            sql += " WHERE " + " AND ".join(planned.where)
        return int(index._rows(conn, sql, planned.params)[0][0])


def search(index, query: SearchQuery) -> SearchResults:
    facets = list(query.facets)
    with index.engine.connect() as conn:
        clause, planned, terms = source(index, conn, query)
        params = planned.params
        sort = _query.order(query, terms, params)
        sql = _query.statement(
            clause, planned.where, sort, facets, planned.narrowed, index.tables.store
        )
        params = {**params, "limit": query.per_page, "offset": query.offset}
        rows = index._rows(conn, sql, params)

    page: list[int] = []
    stored: list[str] = []
    total = 0
    counts: dict[str, dict[str, int]] = {f: {} for f in facets}
    for row in rows:
        if row[0] == "hit":
            page.append(int(row[1]))
            stored.append(row[-1])
            continue
        n = int(row[-2])
        total += n
        for facet, value in zip(facets, row[2:-2], strict=True):
            if value is not None:
                counts[facet][value] = counts[facet].get(value, 0) + n

    documents = json.loads("[" + ",".join(stored) + "]")  # one decoder call a page
    hits = [hit(query, i, data) for i, data in zip(page, documents, strict=True)]
    # most frequent first, like Meilisearch's count sort
    ordered = {
        facet: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
        for facet, values in counts.items()
    }
    return SearchResults(
        hits=hits, total=total, page=query.page, per_page=query.per_page, facets=ordered
    )
