"""What the search API takes and answers, declared once (market/api/contract.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

import search
from market.api.contract import Answer, Id, Query, Url
from market.finder import suggest

Facet = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)]
PLACE_HELP = (
    "a 市区町村 to measure distance from: its code (JIS X 0402) or name in kanji, kana or"
    " English (八王子市, はちおうじ, Hachioji); a name several places share takes its"
    " prefecture: 府中市 (東京都)"
)


class SearchQuery(Query):
    """Words, facets (each may repeat), price, window, and distance from a place, a point
    or one of your sites; search/ checks how they combine."""

    kind: Facet = []
    soil_class: Facet = []
    grade: Facet = []
    material: Facet = []
    category: Facet = []
    prefecture: Facet = []
    municipality_code: Facet = []
    q: Annotated[str, Field(max_length=1000)] = ""
    price_min: Annotated[int, Field(ge=-(10**9), le=10**9)] | None = None
    price_max: Annotated[int, Field(ge=-(10**9), le=10**9)] | None = None
    window_from: dt.date | None = None
    window_to: dt.date | None = None
    site: Id | None = Field(default=None, description="one of your sites (listings), for distance")
    place: Annotated[str, Field(max_length=100, description=PLACE_HELP)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90, description="a point")] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, description="a point")] | None = None
    radius_km: Annotated[float, Field(gt=0, le=search.documents.MAX_RADIUS_KM)] | None = None
    sort: Literal[search.SORTS] | None = None  # type: ignore[valid-type]
    page: Annotated[int, Field(ge=1, le=search.documents.MAX_PAGE)] = 1
    per_page: Annotated[int, Field(ge=1, le=search.documents.MAX_PER_PAGE)] = 20


class SuggestQuery(Query):
    q: Annotated[str, Field(max_length=200)] = ""
    limit: Annotated[int, Field(ge=1, le=suggest.MAX_LIMIT)] = 8


# --- what the search API answers -----------------------------------------------------------


class Hit(Answer):
    """A public listing as the index holds it, and how far it is from the origin."""

    id: int
    kind: str
    title: str
    description: str
    org_name: str
    prefecture: str | None
    municipality_code: str | None
    soil_class: str | None
    grade: str | None
    material: str | None
    category: str | None
    status: str
    price_per_unit: int | None = Field(description="integer yen")
    unit: str | None
    quantity: float | None
    window_start: dt.date | None
    window_end: dt.date | None
    lat: float | None
    lon: float | None
    created_at: str | None
    distance_km: float | None
    url: Url


class Origin(Answer):
    """Where distance is measured from."""

    kind: Literal["site", "place", "point"]
    label: str
    lat: float
    lon: float


class Hits(Answer):
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    origin: Origin | None
    hits: list[Hit]


class Suggestion(Answer):
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    type: Literal["word", "place", "listing"]
    text: str
    value: str
    url: str | None = Field(default=None, description="for a listing: its page")


class Suggestions(Answer):
    q: str
    suggestions: list[Suggestion]
