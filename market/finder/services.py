"""Search requests from form/query arguments, saved searches and their alerts."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

import search
from market.accounts.models import User
from market.catalog.models import Listing, ListingStatus
from market.db import utcnow
from market.errors import Invalid
from market.finder import places
from market.finder.index import get_index
from market.finder.models import SavedSearch
from market.notifications.services import mail_users, notify_users

log = logging.getLogger(__name__)

# Query-string names of the facets (the search package's names, one value or several).
FACET_ARGS = (
    "kind",
    "soil_class",
    "grade",
    "material",
    "category",
    "prefecture",
    "municipality_code",
)
SHOWN_FACETS = ("kind", "prefecture", "soil_class", "material", "grade", "category")
PARAMS = (
    *FACET_ARGS,
    "q",
    "price_min",
    "price_max",
    "window_from",
    "window_to",
    "site",
    "place",
    "lat",
    "lon",
    "radius_km",
    "sort",
)
MAX_SAVED = 20

# What the page calls each argument: an error says "並び順: …", never "sort: …".
FIELD_LABELS = {
    "q": _l("Search words"),
    "place": _l("Place"),
    "site": _l("Your listing"),
    "lat": _l("Map centre"),
    "lon": _l("Map centre"),
    "radius_km": _l("Within"),
    "sort": _l("Sort"),
    "price_min": _l("Price from"),
    "price_max": _l("Price to"),
    "window_from": _l("Available from"),
    "window_to": _l("Available until"),
    "page": _l("Page"),
    "per_page": _l("Listings a page"),
    "kind": _l("Kind"),
    "soil_class": _l("Soil class"),
    "grade": _l("Grade"),
    "material": _l("Material"),
    "category": _l("Category"),
    "prefecture": _l("Prefecture"),
    "municipality_code": _l("Municipality"),
    "name": _l("Name this search"),
}


def field_label(field: str) -> str:
    return str(FIELD_LABELS.get(field, _("Search")))


MESSAGES = {
    "not_a_number": lambda: _("must be a number"),
    "not_an_integer": lambda: _("must be a whole number"),
    "not_a_date": lambda: _("must be a date (YYYY-MM-DD)"),
    "range_inverted": lambda: _("the range is the wrong way round"),
    "unknown_facet": lambda: _("unknown filter"),
    "out_of_range": lambda: _("is out of range"),
}

# The search package names fields its own way; the form speaks these names.
FIELD_NAMES = {"text": "q", "near": "place", "near.lat": "lat", "near.lon": "lon"}


@dataclass(frozen=True)
class Origin:
    """Where distance is measured from: one of the user's listings, a place chosen by
    name, or a point (the map's centre)."""

    kind: str  # "site", "place" or "point"
    lat: float
    lon: float
    label: str


@dataclass(frozen=True)
class SearchRequest:
    query: search.SearchQuery
    origin: Origin | None = None


def my_sites(session: Session, user: User | None) -> list[Listing]:
    """The user's organisation's own listings: places distance can be measured from."""
    if user is None or not getattr(user, "organisation_id", None):
        return []
    return list(
        session.scalars(
            select(Listing)
            .where(
                Listing.organisation_id == user.organisation_id,
                Listing.status != ListingStatus.closed,
            )
            .order_by(Listing.id.desc())
            .limit(100)
        )
    )


def _coordinate(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _origin(session: Session, args: MultiDict, user: User | None, errors: dict) -> Origin | None:
    """The first of: a site of the user's, a place by name or code, a point (lat, lon)."""
    site = (args.get("site") or "").strip()
    if site:
        sites = {str(listing.id): listing for listing in my_sites(session, user)}
        if site not in sites:
            errors["site"] = _("Choose one of your own listings.")
            return None
        return Origin("site", sites[site].lat, sites[site].lon, sites[site].title)
    name = (args.get("place") or "").strip()
    if name:
        found = places.gazetteer(session).find(name)
        locale = str(get_locale() or "ja")
        if not found:
            errors["place"] = _(
                "No city, town or village of that name. Choose one of the suggestions."
            )
            return None
        if len(found) > 1:
            errors["place"] = _(
                "Several places have that name: %(names)s. Choose one.",
                names=", ".join(p.label(locale) for p in found[:6]),
            )
            return None
        return Origin("place", found[0].lat, found[0].lon, found[0].label(locale))
    lat, lon = (args.get("lat") or "").strip(), (args.get("lon") or "").strip()
    if lat or lon:
        point = (_coordinate(lat, -90, 90), _coordinate(lon, -180, 180))
        if point[0] is None:
            errors["lat"] = _("Latitude must be a number from -90 to 90.")
        if point[1] is None:
            errors["lon"] = _("Longitude must be a number from -180 to 180.")
        if None in point:
            return None
        return Origin("point", point[0], point[1], _("the map's centre"))
    return None


def _whole(args: MultiDict, name: str, default: int, high: int, errors: dict) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= high):
        errors[name] = _("must be a whole number from 1 to %(n)s", n=high)
        return default
    return int(raw)


def parse_search_args(
    session: Session,
    args: MultiDict,
    user: User | None,
    *,
    per_page: int | None = 20,
    facets: tuple[str, ...] = SHOWN_FACETS,
) -> SearchRequest:
    """Request arguments (the page's form, the API's query string or a saved search's)
    → the search to run and where distance is measured from. Every bad argument is
    named at once (market.errors.Invalid, messages in the user's language). per_page
    None reads it from the arguments (the API)."""
    errors: dict[str, str] = {}
    filters = {name: [v for v in args.getlist(name) if v] for name in FACET_ARGS}
    origin = _origin(session, args, user, errors)
    near = (origin.lat, origin.lon) if origin else None
    radius = args.get("radius_km") or None
    if radius and origin is None and not errors:
        errors["radius_km"] = _("Choose a place to measure the distance from.")
    sort = args.get("sort") or ("distance" if near else "relevance")
    if sort == "distance" and near is None and not errors:
        errors["sort"] = _(
            "To sort by distance, choose a place, the map's centre or one of your listings."
        )
    page = _whole(args, "page", 1, search.documents.MAX_PAGE, errors)
    if per_page is None:
        per_page = _whole(args, "per_page", 20, search.documents.MAX_PER_PAGE, errors)
    if errors:
        raise Invalid(errors)
    try:
        query = search.SearchQuery(
            text=args.get("q") or "",
            filters=filters,
            price_min=args.get("price_min") or None,
            price_max=args.get("price_max") or None,
            window_from=args.get("window_from") or None,
            window_to=args.get("window_to") or None,
            near=near,
            radius_km=radius,
            sort=sort,
            facets=facets,
            page=page,
            per_page=per_page,
        )
    except search.SearchQueryError as exc:
        # "filters.kind" is the form's "kind"; other names map through FIELD_NAMES.
        name = exc.field.split(".", 1)[1] if exc.field.startswith("filters.") else exc.field
        translate = MESSAGES.get(exc.code)
        raise Invalid(
            {FIELD_NAMES.get(name, name): translate() if translate else exc.message}
        ) from None
    return SearchRequest(query, origin)


def build_query(
    session: Session, args: MultiDict, user: User | None, *, per_page: int = 20
) -> search.SearchQuery:
    """The search a form or saved search asks for (see parse_search_args)."""
    return parse_search_args(session, args, user, per_page=per_page).query


def run(query: search.SearchQuery) -> search.SearchResults:
    """The one path every search takes to the index."""
    return get_index().search(query)


def save_search(session: Session, user: User, name: str, args: MultiDict) -> SavedSearch:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid({"name": _("Give the search a name of at most 100 characters.")})
    build_query(session, args, user)  # refuse a search that would not run
    count = len(session.scalars(select(SavedSearch.id).where(SavedSearch.user_id == user.id)).all())
    if count >= MAX_SAVED:
        raise Invalid({"name": _("You can keep at most %(n)s saved searches.", n=MAX_SAVED)})
    params = {}
    for key in PARAMS:
        values = [v for v in args.getlist(key) if v]
        if values:
            params[key] = values
    saved = SavedSearch(user_id=user.id, name=name, params=params, checked_at=utcnow())
    session.add(saved)
    session.flush()
    return saved


def saved_args(saved: SavedSearch) -> MultiDict:
    """A saved search's parameters ({name: [values]}) as request arguments again."""
    return MultiDict([(key, value) for key, values in saved.params.items() for value in values])


def alert_saved_searches(session: Session) -> int:
    """Notify each saved search's owner of listings that matched since it last looked."""
    sent = 0
    for saved in session.scalars(select(SavedSearch).order_by(SavedSearch.id)).all():
        since = saved.checked_at
        try:
            query = build_query(session, saved_args(saved), saved.user, per_page=50)
        except Invalid:
            continue  # e.g. the site it measured from was closed
        query = search.SearchQuery(**{**query.__dict__, "sort": "newest", "page": 1, "facets": ()})
        new = [
            hit
            for hit in get_index().search(query).hits
            if hit.document.created_at and hit.document.created_at > since
        ]
        saved.checked_at = utcnow()
        _alert(session, saved, new)
        sent += len(new)
    return sent


def _alert(session: Session, saved: SavedSearch, new: list[search.SearchHit]) -> None:
    """A notification per new listing and, if the search asks for mail, one mail listing
    them all, each worded in the owner's language."""
    for hit in new:
        title = hit.document.title

        def note(_user, title=title):
            return _("New listing for “%(name)s”: %(title)s", name=saved.name, title=title), None

        notify_users(session, [saved.user], note, listing_id=hit.id, saved_search_id=saved.id)
    if new and saved.notify_mail:
        lines = "\n".join(f"- {hit.document.title}" for hit in new)

        def mail(_user):
            subject = _("Meguri: %(n)s new listings for “%(name)s”", n=len(new), name=saved.name)
            return subject, lines

        mail_users(session, [saved.user], mail)
