"""Search requests from form/query arguments, saved searches and their alerts."""

from __future__ import annotations

import logging

from flask_babel import gettext as _
from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

import search
from market import tasks
from market.accounts.models import User
from market.catalog.models import Listing, ListingStatus
from market.db import utcnow
from market.finder.index import get_index
from market.finder.models import Notification, SavedSearch
from market.mail import send_later

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
    "radius_km",
    "sort",
)
MAX_SAVED = 20


class SearchInputError(Exception):
    """Bad search input; ``field`` names the query argument in the user's terms."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


MESSAGES = {
    "not_a_number": lambda: _("must be a number"),
    "not_an_integer": lambda: _("must be a whole number"),
    "not_a_date": lambda: _("must be a date (YYYY-MM-DD)"),
    "range_inverted": lambda: _("the range is the wrong way round"),
    "unknown_facet": lambda: _("unknown filter"),
    "out_of_range": lambda: _("is out of range"),
}

# The search package names fields its own way; the form speaks these names.
FIELD_NAMES = {"text": "q", "near": "site", "near.lat": "site", "near.lon": "site"}


def my_sites(session: Session, user: User | None) -> list[Listing]:
    """The user's organisation's own listings: the places distance is measured from."""
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


def build_query(
    session: Session, args: MultiDict, user: User | None, *, per_page: int = 20
) -> search.SearchQuery:
    """A query from request arguments (or a saved search's, see ``saved_args``)."""
    filters = {name: [v for v in args.getlist(name) if v] for name in FACET_ARGS}
    near, radius = None, None
    site = (args.get("site") or "").strip()
    if site:
        sites = {str(listing.id): listing for listing in my_sites(session, user)}
        if site not in sites:
            raise SearchInputError("site", _("choose one of your own sites"))
        near = (sites[site].lat, sites[site].lon)
    if args.get("radius_km"):
        if near is None:
            raise SearchInputError("radius_km", _("choose a site to measure the distance from"))
        radius = args.get("radius_km")
    sort = args.get("sort") or ("distance" if near else "relevance")
    if sort == "distance" and near is None:
        raise SearchInputError("sort", _("choose a site to sort by distance"))
    try:
        page = int(args.get("page") or 1)
    except ValueError:
        raise SearchInputError("page", _("must be a whole number")) from None
    try:
        return search.SearchQuery(
            text=args.get("q") or "",
            filters=filters,
            price_min=args.get("price_min") or None,
            price_max=args.get("price_max") or None,
            window_from=args.get("window_from") or None,
            window_to=args.get("window_to") or None,
            near=near,
            radius_km=radius,
            sort=sort,
            facets=SHOWN_FACETS,
            page=page,
            per_page=per_page,
        )
    except search.SearchQueryError as exc:
        # "filters.kind" is the form's "kind"; other names map through FIELD_NAMES.
        name = exc.field.split(".", 1)[1] if exc.field.startswith("filters.") else exc.field
        translate = MESSAGES.get(exc.code)
        raise SearchInputError(
            FIELD_NAMES.get(name, name), translate() if translate else exc.message
        ) from None


def run(query: search.SearchQuery) -> search.SearchResults:
    return get_index().search(query)


def save_search(session: Session, user: User, name: str, args: MultiDict) -> SavedSearch:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise SearchInputError("name", _("Give the search a name of at most 100 characters."))
    build_query(session, args, user)  # refuse a search that would not run
    count = len(session.scalars(select(SavedSearch.id).where(SavedSearch.user_id == user.id)).all())
    if count >= MAX_SAVED:
        raise SearchInputError("name", _("You can keep at most %(n)s saved searches.", n=MAX_SAVED))
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
        except SearchInputError:
            continue  # e.g. the site it measured from was closed
        query = search.SearchQuery(**{**query.__dict__, "sort": "newest", "page": 1, "facets": ()})
        new = [
            hit
            for hit in get_index().search(query).hits
            if hit.document.created_at and hit.document.created_at > since
        ]
        saved.checked_at = utcnow()
        for hit in new:
            session.add(
                Notification(
                    user_id=saved.user_id,
                    saved_search_id=saved.id,
                    listing_id=hit.id,
                    message=_(
                        "New listing for “%(name)s”: %(title)s",
                        name=saved.name,
                        title=hit.document.title,
                    )[:300],
                )
            )
        if new and saved.notify_mail and saved.user.mailable:
            lines = "\n".join(f"- {hit.document.title}" for hit in new)
            send_later(
                session,
                saved.user.email,
                _("Meguri: %(n)s new listings for “%(name)s”", n=len(new), name=saved.name),
                lines,
            )
        sent += len(new)
    return sent


@tasks.huey.periodic_task(crontab(minute="*/5"))
def saved_search_alerts() -> None:
    tasks.in_session(alert_saved_searches)


def notify_users(
    session: Session, users, words, *, order_id: int | None = None, listing_id: int | None = None
) -> None:
    """Tell each user in their own language: an in-app notification linking the order or
    listing, and a mail when ``words`` gives a body and the address is confirmed.
    ``words(user)`` runs in the user's locale and returns (message, mail body or None)."""
    from flask_babel import force_locale

    from market import LOCALES

    for user in users:
        with force_locale(user.locale or LOCALES[0]):
            message, body = words(user)
            session.add(
                Notification(
                    user_id=user.id, order_id=order_id, listing_id=listing_id, message=message[:300]
                )
            )
            if body is not None and user.mailable:
                send_later(
                    session, user.email, _("[Meguri] %(message)s", message=message)[:200], body
                )


def unread_count(session: Session, user: User) -> int:
    from sqlalchemy import func

    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user: User) -> None:
    for note in session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ):
        note.read_at = utcnow()
