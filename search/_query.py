"""The embedded engine's search statement: the inverted index narrows, the key rows
decide (facets, place, price, window), one statement returns the page's documents and
every facet count."""

from __future__ import annotations

from dataclasses import dataclass, field

from .documents import SearchQuery
from .geo import bounding_box, chord_threshold, unit_vector
from .tags import covering_cells, facet_tag
from .text import READING, TEXT, QueryTerm

# Squared chord from the query point to the row (4 x the haversine term, so monotonic in
# distance): arithmetic only, ~3x cheaper than sin/cos per row.
CHORD = (
    "((d.cx - :n_x) * (d.cx - :n_x) + (d.cy - :n_y) * (d.cy - :n_y)"
    " + (d.cz - :n_z) * (d.cz - :n_z))"
)
# the title as the relevance tests read it: a substring anywhere, or a whole word
_TITLE = {TEXT: "d.title_norm", READING: "REPLACE(d.title_reading, ' ', '')"}
_TITLE_WORDS = {TEXT: "d.title_norm", READING: "(' ' || d.title_reading || ' ')"}


@dataclass
class Plan:
    """What a query asks of the tables: exact conditions on the key rows (alias d),
    their parameters, and whether the inverted index narrows the candidates."""

    where: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    narrowed: bool = False


def tag_groups(query: SearchQuery) -> list[list[str]]:
    """The index tags of the query's filters and place: one OR group each."""
    groups = [
        [facet_tag(facet, value) for value in values] for facet, values in query.filters.items()
    ]
    if query.near is not None and query.radius_km is not None:
        cells = covering_cells(*query.near, query.radius_km)
        if cells:
            groups.append(cells)
    return groups


def plan(query: SearchQuery, terms: list[QueryTerm], match) -> Plan:
    """`match(terms, tag_groups)` is the dialect's full-text condition builder."""
    out = Plan()
    groups = tag_groups(query)
    out.narrowed = bool(terms or groups)
    if out.narrowed:
        out.params.update(match(terms, groups))
    where, params = out.where, out.params
    for facet, values in query.filters.items():
        names = []
        for position, value in enumerate(values):
            params[f"f_{facet}_{position}"] = value
            names.append(f":f_{facet}_{position}")
        where.append(f"d.{facet} IN ({', '.join(names)})")
    if query.price_min is not None:
        where.append("d.price_per_unit >= :price_min")
        params["price_min"] = query.price_min
    if query.price_max is not None:
        where.append("d.price_per_unit <= :price_max")
        params["price_max"] = query.price_max
    # A listing without a window bound is open-ended on that side.
    if query.window_to is not None:
        where.append("(d.window_start IS NULL OR d.window_start <= :window_to)")
        params["window_to"] = query.window_to.isoformat()
    if query.window_from is not None:
        where.append("(d.window_end IS NULL OR d.window_end >= :window_from)")
        params["window_from"] = query.window_from.isoformat()
    if query.near is not None:
        lat, lon = query.near
        params.update(zip(("n_x", "n_y", "n_z"), unit_vector(lat, lon), strict=True))
        if query.radius_km is not None:
            min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, query.radius_km)
            where.append("d.lat BETWEEN :min_lat AND :max_lat")
            params.update(min_lat=min_lat, max_lat=max_lat)
            if min_lon is not None:
                where.append("d.lon BETWEEN :min_lon AND :max_lon")
                params.update(min_lon=min_lon, max_lon=max_lon)
            where.append(f"{CHORD} <= :chord_max")
            params["chord_max"] = chord_threshold(query.radius_km)
    return out


def _title_test(
    terms: list[QueryTerm], params: dict, key: str, typed_only: bool, whole: bool
) -> str:
    """Every word in the title: as typed or in any of its forms; as a whole word (a
    kana word is a word's reading, not part of one: がら is not ガラス) or anywhere."""
    words = []
    for number, term in enumerate(terms):
        tests = []
        options = term.options[: term.typed] if typed_only else term.options
        for index, option in enumerate(options):
            first = option[0]
            name = f"{key}_{number}_{index}"
            params[name] = first.word if whole else first.like
            column = (_TITLE_WORDS if whole else _TITLE)[first.field]
            tests.append(f"{column} LIKE :{name}")
        words.append("(" + " OR ".join(tests) + ")")
    return " AND ".join(words)


def order(query: SearchQuery, terms: list[QueryTerm], params: dict) -> list[tuple[str, str]]:
    """(expression, direction) sort keys, always ending in a unique tie-break.

    Relevance, given that every word must match anyway: listings with every word in the
    title as typed and whole first, then in some form (reading, synonym, dictionary
    form, corrected typo) and whole, then in the title at all; within each, the nearest
    when the query has a point, else the newest. (Meilisearch's "attribute", "typo"
    and "exactness" rules.) BM25 was tried and cost ~15 µs per candidate, most of a
    query's time, for little change in order on short listings."""
    nearest = [("(d.lat IS NULL)", "ASC"), (CHORD, "ASC"), ("d.id", "ASC")]
    newest = [("(d.created_ts IS NULL)", "ASC"), ("d.created_ts", "DESC"), ("d.id", "DESC")]
    if query.sort == "relevance":
        then = nearest if query.near is not None else newest
        if not terms:
            return then
        typed = _title_test(terms, params, "t", typed_only=True, whole=True)
        anyform = _title_test(terms, params, "a", typed_only=False, whole=True)
        anywhere = _title_test(terms, params, "w", typed_only=False, whole=False)
        tier = f"(CASE WHEN {typed} THEN 0 WHEN {anyform} THEN 1 WHEN {anywhere} THEN 2 ELSE 3 END)"
        return [(tier, "ASC"), *then]
    if query.sort == "distance":
        return nearest
    if query.sort == "price_asc":
        return [("(d.price_per_unit IS NULL)", "ASC"), ("d.price_per_unit", "ASC"),
                ("d.id", "ASC")]  # fmt: skip
    if query.sort == "price_desc":
        return [("(d.price_per_unit IS NULL)", "ASC"), ("d.price_per_unit", "DESC"),
                ("d.id", "ASC")]  # fmt: skip
    return newest


def statement(
    source: str,
    where: list[str],
    sort: list[tuple[str, str]],
    facets: list[str],
    narrowed: bool,
    store: str,
) -> str:
    """One statement: the page's ids with their stored documents, then the counts."""
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    # explicit types: PostgreSQL cannot type a UNION of bare NULLs and numbers
    blanks = "".join(", CAST(NULL AS TEXT)" for _ in facets)
    if narrowed:
        # Narrowed by the inverted index: read the candidates once into a
        # materialised set, then take the page and the counts from it.
        keys = [f"s{n}" for n in range(len(sort))]
        columns = ", ".join(
            ["d.id AS id"]
            + [f"d.{facet} AS {facet}" for facet in facets]
            + [f"{expr} AS {key}" for (expr, _), key in zip(sort, keys, strict=True)]
        )
        by = ", ".join(f"{key} {way}" for key, (_, way) in zip(keys, sort, strict=True))
        head = f"WITH h AS MATERIALIZED (SELECT {columns} FROM {source}{where_sql}) "
        page_sql = f"SELECT id FROM h ORDER BY {by}"
        counted = "h"
    else:
        # Nothing to narrow with: let the database walk its indexes in sort order.
        by = ", ".join(f"{expr} {way}" for expr, way in sort)
        head = ""
        page_sql = f"SELECT d.id AS id FROM {source}{where_sql} ORDER BY {by}"
        counted = f"{source}{where_sql}"
        if facets:
            picked = ", ".join(f"d.{f} AS {f}" for f in facets)
            head = f"WITH h AS MATERIALIZED (SELECT {picked} FROM {counted}) "
            counted = "h"
    # One GROUP BY over all requested facets gives every facet's counts and the total
    # (summed by the caller), instead of one sort per facet.
    group = ", ".join(facets)
    count_sql = (
        f"SELECT 'count', CAST(NULL AS BIGINT){(', ' + group) if facets else ''},"
        f" count(*), CAST(NULL AS TEXT) FROM {counted}"
    )
    if facets:
        count_sql += f" GROUP BY {group}"
    # The page's documents come in the same statement (one round trip, one snapshot:
    # a listing deleted meanwhile cannot leave a hit without its document).
    return (
        f"{head}SELECT 'hit', page.id{blanks}, CAST(NULL AS BIGINT),"
        f" (SELECT s.document FROM {store} s WHERE s.id = page.id)"
        f" FROM ({page_sql} LIMIT :limit OFFSET :offset) AS page"
        f" UNION ALL {count_sql}"
    )
