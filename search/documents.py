"""The search package's own vocabulary: what a listing looks like to the index, what a
user may ask, and what comes back. Every backend speaks exactly these types."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

# Facets a user can filter and count on. The window is a range filter, not a facet.
FACETS: tuple[str, ...] = (
    "kind",
    "soil_class",  # 土質区分
    "grade",
    "material",
    "category",
    "prefecture",
    "municipality_code",
    "status",
    "unit",
)
SORTS: tuple[str, ...] = ("relevance", "distance", "price_asc", "price_desc", "newest")
DEFAULT_INDEXABLE_STATUSES: frozenset[str] = frozenset({"open"})

# Longer text is cut, not refused: like Meilisearch (which reads only the first ten
# words), a pasted paragraph still finds something. The cut bounds query cost.
MAX_TEXT_CHARS = 500
MAX_QUERY_TERMS = 16
MAX_PER_PAGE = 100
MAX_PAGE = 1000
MAX_RADIUS_KM = 2000.0
MAX_FILTER_VALUES = 100


class SearchQueryError(ValueError):
    """Bad search input. `field` names the offending part of the query (e.g. `radius_km`,
    `filters.colour`); `code` is stable for translation; `message` is plain English."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message


class SearchBackendError(RuntimeError):
    """The search service failed (unreachable, task failed). Not the user's fault."""


@dataclass(frozen=True)
class ListingDocument:
    """The public face of one listing. It deliberately has no private fields (notes,
    contact details, drafts' workings): what is not here cannot leak into an index."""

    id: int
    kind: str
    title: str
    description: str = ""
    org_name: str = ""
    prefecture: str | None = None
    municipality_code: str | None = None
    soil_class: str | None = None
    grade: str | None = None
    material: str | None = None
    category: str | None = None
    status: str = "open"
    price_per_unit: int | None = None  # integer yen
    unit: str | None = None
    quantity: float | None = None
    window_start: date | None = None
    window_end: date | None = None
    lat: float | None = None
    lon: float | None = None
    created_at: datetime | None = None

    def to_json_dict(self) -> dict:
        """Plain JSON-safe dict (dates as ISO strings)."""
        # every field is a scalar: a plain dict is what asdict gives, without deep copies
        data = {name: getattr(self, name) for name in _DOCUMENT_FIELDS}
        for key in ("window_start", "window_end", "created_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_json_dict(cls, data: Mapping) -> ListingDocument:
        values = {name: data.get(name) for name in _DOCUMENT_FIELDS}
        for key in ("window_start", "window_end"):
            if isinstance(values[key], str):
                values[key] = date.fromisoformat(values[key])
        if isinstance(values["created_at"], str):
            values["created_at"] = datetime.fromisoformat(values["created_at"])
        # Every field is given, so the generated __init__ has nothing to add; being
        # frozen, it sets each field through object.__setattr__: ~3 µs a document,
        # 60 µs for a page of 20 hits, a tenth of a short search.
        document = object.__new__(cls)
        document.__dict__.update(values)
        return document

    def content_hash(self) -> str:
        """Stable fingerprint of the indexed content, used by verify to spot stale rows."""
        return json_and_hash(self)[1]

    def searchable_body(self) -> str:
        """Everything besides the title that free text should find, one field a line."""
        parts = (
            self.description,
            self.org_name,
            self.material,
            self.category,
            self.soil_class,
            self.grade,
            self.prefecture,
        )
        return "\n".join(part for part in parts if part)

    @property
    def created_ts(self) -> float | None:
        if self.created_at is None:
            return None
        moment = self.created_at
        if moment.tzinfo is None:  # naive datetimes are taken as UTC
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()


_DOCUMENT_FIELDS: tuple[str, ...] = tuple(ListingDocument.__dataclass_fields__)


def json_and_hash(document: ListingDocument) -> tuple[dict, str]:
    """(to_json_dict(), content_hash()) computed together: an index writes both."""
    data = document.to_json_dict()
    hashed = dict(data)
    for key in ("quantity", "lat", "lon"):  # 20 and 20.0 are the same quantity
        if hashed[key] is not None:
            hashed[key] = float(hashed[key])
    canonical = json.dumps(hashed, sort_keys=True, ensure_ascii=False)
    return data, hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class SearchHit:
    id: int
    document: ListingDocument
    distance_km: float | None = None  # set whenever the query had `near`
    score: float | None = None  # backend-specific; only the order is comparable


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page

    @property
    def ids(self) -> list[int]:
        return [hit.id for hit in self.hits]


def _number(value: object, field_name: str) -> float:
    if isinstance(value, bool):
        raise SearchQueryError(field_name, "not_a_number", "must be a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SearchQueryError(field_name, "not_a_number", "must be a number") from None
    if not math.isfinite(number):
        raise SearchQueryError(field_name, "not_a_number", "must be a finite number")
    return number


def _integer(value: object, field_name: str) -> int:
    if isinstance(value, bool):
        raise SearchQueryError(field_name, "not_an_integer", "must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise SearchQueryError(field_name, "not_an_integer", "must be a whole number")


def _date(value: object, field_name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SearchQueryError(field_name, "not_a_date", "must be a date (YYYY-MM-DD)")


def _filter_values(name: str, values: object) -> list[str]:
    """One facet filter's values as text (SearchQuery.filters)."""
    where = f"filters.{name}"
    if name not in FACETS:
        raise SearchQueryError(where, "unknown_facet", f"unknown facet; known: {', '.join(FACETS)}")
    if isinstance(values, str | int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, Sequence | set | frozenset):
        raise SearchQueryError(where, "not_a_list", "must be a list of values")
    cleaned = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise SearchQueryError(where, "bad_value", "values must be text")
        cleaned.append(str(value))
    if len(cleaned) > MAX_FILTER_VALUES:
        raise SearchQueryError(where, "too_many_values", f"at most {MAX_FILTER_VALUES} values")
    return cleaned


@dataclass(frozen=True)
class SearchQuery:
    """What a user asked for. Validated and normalised on construction, so an invalid
    query never reaches a backend: a SearchQueryError names the field instead."""

    text: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    price_min: int | None = None
    price_max: int | None = None
    window_from: date | None = None
    window_to: date | None = None
    near: tuple[float, float] | None = None  # (lat, lon)
    radius_km: float | None = None
    sort: str = "relevance"
    facets: Sequence[str] = ()
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        for step in (
            self._check_text,
            self._check_filters,
            self._check_prices,
            self._check_window,
            self._check_place,
            self._check_order,
            self._check_paging,
        ):
            step()

    def _put(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # frozen: set once, while validating

    def _check_text(self) -> None:
        text = self.text if self.text is not None else ""
        if not isinstance(text, str):
            raise SearchQueryError("text", "not_text", "must be text")
        self._put("text", text[: MAX_TEXT_CHARS * 2])

    def _check_filters(self) -> None:
        if not isinstance(self.filters, Mapping):
            raise SearchQueryError("filters", "not_a_mapping", "must map facet names to values")
        filters: dict[str, tuple[str, ...]] = {}
        for name, values in self.filters.items():
            cleaned = _filter_values(name, values)
            if cleaned:  # an empty list means "no constraint", as in an unticked facet
                filters[name] = tuple(dict.fromkeys(cleaned))
        self._put("filters", filters)

    def _check_prices(self) -> None:
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and value != "":
                self._put(name, _integer(value, name))
            else:
                self._put(name, None)
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise SearchQueryError("price_max", "range_inverted", "must not be below price_min")

    def _check_window(self) -> None:
        self._put("window_from", _date(self.window_from, "window_from"))
        self._put("window_to", _date(self.window_to, "window_to"))
        if self.window_from and self.window_to and self.window_from > self.window_to:
            raise SearchQueryError("window_to", "range_inverted", "must not be before window_from")

    def _check_place(self) -> None:
        if self.near is not None:
            try:
                lat, lon = self.near  # type: ignore[misc]
            except (TypeError, ValueError):
                raise SearchQueryError(
                    "near", "bad_point", "must be a (latitude, longitude) pair"
                ) from None
            lat = _number(lat, "near.lat")
            lon = _number(lon, "near.lon")
            if not -90.0 <= lat <= 90.0:
                raise SearchQueryError("near.lat", "out_of_range", "must be between -90 and 90")
            if not -180.0 <= lon <= 180.0:
                raise SearchQueryError("near.lon", "out_of_range", "must be between -180 and 180")
            self._put("near", (lat, lon))
        if self.radius_km is not None and self.radius_km != "":
            radius = _number(self.radius_km, "radius_km")
            if not 0.0 < radius <= MAX_RADIUS_KM:
                raise SearchQueryError(
                    "radius_km", "out_of_range", f"must be above 0 and at most {MAX_RADIUS_KM:g} km"
                )
            if self.near is None:
                raise SearchQueryError("radius_km", "needs_near", "needs a point to measure from")
            self._put("radius_km", radius)
        else:
            self._put("radius_km", None)

    def _check_order(self) -> None:
        if self.sort not in SORTS:
            raise SearchQueryError("sort", "unknown_sort", f"must be one of {', '.join(SORTS)}")
        if self.sort == "distance" and self.near is None:
            raise SearchQueryError("sort", "needs_near", "sorting by distance needs a point")
        facets = [self.facets] if isinstance(self.facets, str) else list(self.facets or ())
        for name in facets:
            if name not in FACETS:
                raise SearchQueryError(
                    "facets", "unknown_facet", f"unknown facet {name!r}; known: {', '.join(FACETS)}"
                )
        self._put("facets", tuple(dict.fromkeys(facets)))

    def _check_paging(self) -> None:
        page = _integer(self.page, "page")
        if not 1 <= page <= MAX_PAGE:
            raise SearchQueryError("page", "out_of_range", f"must be between 1 and {MAX_PAGE}")
        self._put("page", page)
        per_page = _integer(self.per_page, "per_page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise SearchQueryError(
                "per_page", "out_of_range", f"must be between 1 and {MAX_PER_PAGE}"
            )
        self._put("per_page", per_page)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page
