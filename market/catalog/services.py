"""Write side of the catalogue: create, update, publish and close listings.

Services take the session and the acting user, may flush, and never commit.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.accounts.services import active_members
from market.catalog import events, kinds, ledger, partners
from market.catalog.models import Listing, ListingKind, ListingStatus, MaterialCategory
from market.db import id_in_range, japan_today
from market.errors import Conflict, Forbidden, NotFound
from market.notifications.services import notify_users


def ensure_can_create(user: User, kind: ListingKind) -> None:
    if user.organisation_id is None:
        raise Forbidden(_("Join or create an organisation first."))
    allowed = kinds.SPECS[kind].org_kinds
    if allowed and user.organisation.kind.value not in allowed:
        raise Forbidden(_("Your organisation type cannot create this kind of listing."))


def ensure_can_edit(user: User, listing: Listing) -> None:
    if user.organisation_id != listing.organisation_id:
        raise Forbidden(_("Only members of the listing's organisation may change it."))


def _unit(session: Session, kind: ListingKind, clean: dict) -> str:
    unit = kinds.SPECS[kind].unit
    if unit:
        return unit
    category = session.get(MaterialCategory, clean.get("material_category_code"))
    return category.unit if category else "piece"


def create_listing(session: Session, user: User, kind: ListingKind, clean: dict) -> Listing:
    return create_listings(session, user, [(kind, clean)])[0]


def create_listings(
    session: Session, user: User, items: list[tuple[ListingKind, dict]]
) -> list[Listing]:
    """New listings, each entered in the ledger as open; a file import adds hundreds at a
    time, so they are written with one flush (and one for their ledger entries)."""
    listings = []
    for kind, clean in items:
        ensure_can_create(user, kind)
        listing = Listing(
            kind=kind,
            organisation_id=user.organisation_id,
            created_by_id=user.id,
            unit=_unit(session, kind, clean),
            open_quantity=clean["quantity"],
            committed_quantity=0,
            delivered_quantity=0,
        )
        _apply(listing, clean)
        _check_period(listing)
        listings.append(listing)
    session.add_all(listings)
    session.flush()
    for listing in listings:
        ledger.publish(session, listing)
    session.flush()
    return listings


def _check_period(listing: Listing) -> None:
    """A published listing's period must not be over already (Japan's date)."""
    if (
        listing.status in (ListingStatus.open, ListingStatus.reserved)
        and listing.window_end is not None
        and listing.window_end < japan_today()
    ):
        raise Conflict(
            _(
                "This period is over: set “Available until” to today or later to publish the listing."
            ),
            field="window_end",
        )


# Changing these can make a match proposal on the listing untrue (its timing, or who may
# take it), so open proposals on it expire (the next run proposes again).
TERMS = ("window_start", "window_end", "partner_only_until")


def update_listing(session: Session, user: User, listing: Listing, clean: dict) -> Listing:
    """The owner's edit. Quantity and status go through the ledger in one guarded statement
    (an edit racing orders can neither oversell nor lose a reservation); the rest is set
    on the row."""
    ensure_can_edit(user, listing)
    if listing.status == ListingStatus.closed:
        raise Conflict(_("A closed listing cannot be changed."))
    clean = dict(clean)
    quantity = clean.pop("quantity", None)
    wanted = clean.pop("status", None)
    was = listing.status
    status = ListingStatus(wanted) if wanted is not None else None
    if was == ListingStatus.reserved and status == ListingStatus.draft:
        status = None  # everything is committed to orders: it stays published
    elif was == ListingStatus.expired and status is None and "window_end" in clean:
        status = ListingStatus.open  # extended (API PATCH): published again
    terms = [name for name in TERMS if name in clean and clean[name] != getattr(listing, name)]
    _apply(listing, clean)
    session.flush()
    if terms:
        events.terms_changed(session, listing)
    if quantity is not None or status is not None:
        try:
            ledger.set_quantity(session, listing, quantity, status, user.organisation_id)
        except ledger.BelowCommitted as exc:
            raise Conflict(
                _(
                    "Quantity cannot go below the %(n)s already committed to orders.",
                    n=f"{exc.taken.normalize():,f}",
                ),
                field="quantity",
            ) from None
    _check_period(listing)
    if "material_category_code" in clean:
        listing.unit = _unit(session, listing.kind, clean)
    session.flush()
    return listing


def expire_listings(session: Session, today: dt.date | None = None) -> list[Listing]:
    """Published listings whose period ended before ``today`` (Japan) become expired: out of
    browsing, search, matching and new requests (orders already made go on). Each member
    of the owner is told, in-app and by mail, and can extend the period to publish again."""
    today = today or japan_today()
    due = session.scalars(
        select(Listing)
        .where(
            Listing.status.in_((ListingStatus.open, ListingStatus.reserved)),
            Listing.window_end < today,
        )
        .order_by(Listing.id)
        .with_for_update()
    ).all()
    for listing in due:
        listing.status = ListingStatus.expired

        def words(_user, listing=listing):
            message = _(
                "Your listing “%(title)s” ended on %(date)s and is no longer shown. Extend “Available "
                "until” to publish it again.",
                title=listing.title,
                date=listing.window_end.isoformat(),
            )
            return message, message

        notify_users(
            session,
            active_members(session, [listing.organisation_id]),
            words,
            listing_id=listing.id,
        )
    session.flush()
    if due:
        events.quantities_changed(session, [listing.id for listing in due])
    return list(due)


def close_listing(session: Session, user: User, listing: Listing) -> Listing:
    ensure_can_edit(user, listing)
    listing.status = ListingStatus.closed
    session.flush()
    ledger.close(session, listing, user.organisation_id)
    session.flush()
    return listing


def _apply(listing: Listing, clean: dict) -> None:
    for name, value in clean.items():
        if name == "status":
            value = ListingStatus(value)
        setattr(listing, name, value)


def current_values(listing: Listing) -> dict[str, object]:
    """Column values of a listing as ``kinds.validate`` returns them (for PATCH checks)."""
    return {f.name: getattr(listing, f.name) for f in kinds.fields_for(listing.kind)}


def visible_listing(session: Session, user: User | None, listing_id: int) -> Listing:
    """A listing the user may see: open/reserved/closed for all, drafts for its owners
    only, an item in its partner-only period for the municipality and its partners only."""
    listing = session.get(Listing, listing_id) if id_in_range(listing_id) else None
    if listing is None:
        raise NotFound(_("No such listing."))
    org_id = getattr(user, "organisation_id", None) if user is not None else None
    if listing.status == ListingStatus.draft and org_id != listing.organisation_id:
        raise NotFound(_("No such listing."))
    if not partners.may_take(session, listing, org_id):
        raise NotFound(_("No such listing."))  # as if it did not exist, until the date
    return listing
