"""Requesting an order on a listing (by hand, or from an accepted match proposal), and the
reservation of its quantity through the ledger.

Services take the session and the acting user, may flush, and never commit; on any
refusal they raise a DomainError and the caller rolls back, so a refused request leaves
no trace (not even a reservation already made in the same transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.catalog import ledger, partners
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, ListingStatus
from market.db import id_in_range
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.orders import notify
from market.orders.inputs import parse_quantity, qty, text
from market.orders.models import (
    ListingOrderTerms,
    Order,
    OrderStatus,
    OrderTransition,
    TransportArrangement,
)
from market.orders.moves import move

ORDERABLE = ("offer", "want")  # listing families a request can be made on (not stockyards)


def _sides(listing: Listing, requester_org_id: int) -> tuple[int, int]:
    """(buyer, seller): on an offer the requester buys; on a want the requester supplies."""
    if SPECS[listing.kind].side == "want":
        return listing.organisation_id, requester_org_id
    return requester_org_id, listing.organisation_id


def orderable(listing: Listing) -> bool:
    """Whether requests can be made on the listing now (open offers and wants)."""
    return listing.status == ListingStatus.open and SPECS[listing.kind].side in ORDERABLE


def instant_accept(session: Session, listing_id: int) -> bool:
    terms = session.get(ListingOrderTerms, listing_id)
    return bool(terms and terms.instant_accept)


def request_order(
    session: Session, user: User, listing_id: object, data: Mapping[str, object]
) -> Order:
    """A request for a quantity of a listing. Prices come from the listing; any amount in
    ``data`` is ignored. With instant acceptance it is accepted (and reserved) at once, or
    refused with nothing created."""
    if user.organisation_id is None:
        raise Forbidden(_("Join or create an organisation first."))
    listing = _requestable_listing(session, user, listing_id)
    quantity, arrangement, note = _request_input(listing, data)
    buyer, seller = _sides(listing, user.organisation_id)
    order = Order(
        listing=listing,
        requester_org_id=user.organisation_id,
        responder_org_id=listing.organisation_id,
        buyer_org_id=buyer,
        seller_org_id=seller,
        requested_by_id=user.id,
        description=listing.title[:200],
        quantity=quantity,
        unit=listing.unit,
        unit_price_yen=listing.price_per_unit,
        transport_arrangement=arrangement,
        note=note,
        status=OrderStatus.requested,
    )
    session.add(order)
    session.add(
        OrderTransition(
            order=order,
            action="request",
            from_status=None,
            to_status=OrderStatus.requested.value,
            actor_user_id=user.id,
            actor_org_id=user.organisation_id,
            note=note,
        )
    )
    session.flush()
    if instant_accept(session, listing.id):
        reserve_or_refuse(session, order)
        move(
            session,
            order,
            "auto_accept",
            None,
            note=_("Accepted automatically (instant acceptance)."),
        )
    else:
        notify.order_moved(session, order, "request", user.organisation_id, note)
    return order


def _requestable_listing(session: Session, user: User, listing_id: object) -> Listing:
    """The listing a request names, if the user's organisation may request on it now."""
    # An id is a whole number within the INTEGER column: never a boolean, a float or a text
    # that merely looks like one, and never one the database would refuse to compare.
    listing = (
        session.get(Listing, listing_id)
        if isinstance(listing_id, int)
        and not isinstance(listing_id, bool)
        and id_in_range(listing_id)
        else None
    )
    if (
        listing is None
        or listing.status == ListingStatus.draft
        or not partners.may_take(session, listing, user.organisation_id)
    ):
        raise Invalid({"listing_id": _("No such listing.")})
    if listing.organisation_id == user.organisation_id:
        raise Forbidden(_("You cannot order from your own organisation's listing."))
    if not orderable(listing):
        raise Conflict(_("This listing is not open for requests."), field="listing_id")
    return listing


def _request_input(
    listing: Listing, data: Mapping[str, object]
) -> tuple[Decimal, TransportArrangement, str]:
    """Quantity, transport arrangement and note of a request, every field error at once (a
    quantity above what is open alone is a conflict, not a typing error)."""
    errors: dict[str, str] = {}
    try:
        quantity = parse_quantity(data.get("quantity"))
    except Invalid as exc:  # named with the other fields' errors, not alone
        errors.update(exc.errors)
        quantity = None
    beyond_open = quantity is not None and quantity > Decimal(listing.open_quantity)
    if beyond_open:
        errors["quantity"] = _(
            "Only %(n)s %(unit)s are still open on this listing.",
            n=qty(listing.open_quantity),
            unit=listing.unit,
        )
    arrangement_raw = (
        data.get("transport_arrangement") or TransportArrangement.receiver_collects.value
    )
    try:
        arrangement = TransportArrangement(str(arrangement_raw))
    except ValueError:
        errors["transport_arrangement"] = _("Choose how the material is transported.")
        arrangement = TransportArrangement.receiver_collects
    try:
        note = text(data.get("note"), "note", 2000)
    except Invalid as exc:
        errors.update(exc.errors)
        note = ""
    if errors:
        raise (
            Conflict(errors["quantity"], field="quantity")
            if beyond_open and set(errors) == {"quantity"}
            else Invalid(errors)
        )
    return quantity, arrangement, note


def order_from_proposal(
    session: Session,
    *,
    listing_id: int,
    counterparty_org_id: int,
    quantity: Decimal,
    proposal_ref: str,
    actor: User | None = None,
    proposal_id: int | None = None,
    also_reserve: tuple[int, ...] = (),
) -> Order:
    """An accepted match proposal becomes an accepted order: both sides already agreed, so
    the quantity is reserved now, on the listing and on each of ``also_reserve`` (the
    receiving side's listing), all through the ledger under this order (or the whole unit
    of work is refused)."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    refuse_outside_partners(session, listing, counterparty_org_id)
    buyer, seller = _sides(listing, counterparty_org_id)
    order = Order(
        listing=listing,
        requester_org_id=counterparty_org_id,
        responder_org_id=listing.organisation_id,
        buyer_org_id=buyer,
        seller_org_id=seller,
        requested_by_id=actor.id if actor else None,
        description=listing.title[:200],
        quantity=parse_quantity(quantity),
        unit=listing.unit,
        unit_price_yen=listing.price_per_unit,
        source="proposal",
        proposal_ref=proposal_ref[:64],
        status=OrderStatus.requested,
    )
    session.add(order)
    session.add(
        OrderTransition(
            order=order,
            action="request",
            from_status=None,
            to_status=OrderStatus.requested.value,
            note=f"proposal {proposal_ref}",
        )
    )
    session.flush()
    for lid in sorted({listing.id, *also_reserve}):  # listings are locked in id order
        reserve_or_refuse(session, order, listing_id=lid, proposal_id=proposal_id)
    move(session, order, "auto_accept", None, note=_("Accepted match proposal."))
    return order


def refuse_outside_partners(session: Session, listing: Listing, org_id: int) -> None:
    """An item in its partner-only period goes to the municipality's partners only, even
    when a request or a proposal reached it some other way (made before the period was
    set, or sent by hand)."""
    if not partners.may_take(session, listing, org_id):
        raise Forbidden(
            _(
                "Until %(date)s this item is for the municipality's partner operators only.",
                date=format_date(listing.partner_only_until),
            )
        )


def reserve_or_refuse(
    session: Session,
    order: Order,
    listing_id: int | None = None,
    proposal_id: int | None = None,
    actor_org_id: int | None = None,
) -> None:
    """Commit the order's quantity on its listing (or, for a deal, on ``listing_id``, the
    other side's listing) through the ledger, or refuse with what is still open."""
    listing_id = listing_id or order.listing_id
    if not ledger.reserve(
        session,
        listing_id,
        Decimal(order.quantity),
        order_id=order.id,
        proposal_id=proposal_id,
        actor_org_id=actor_org_id,
    ):
        listing = session.get(Listing, listing_id)
        if listing.status != ListingStatus.open and Decimal(listing.open_quantity) > 0:
            raise Conflict(_("This listing is not open for orders any more."), field="quantity")
        raise Conflict(
            _(
                "Only %(n)s %(unit)s are still open on this listing, not enough for %(q)s.",
                n=qty(listing.open_quantity),
                unit=listing.unit,
                q=qty(order.quantity),
            ),
            field="quantity",
        )


def set_instant_accept(
    session: Session, user: User, listing: Listing, enabled: bool
) -> ListingOrderTerms:
    if user.organisation_id != listing.organisation_id:
        raise Forbidden(_("Only members of the listing's organisation may change it."))
    terms = session.get(ListingOrderTerms, listing.id) or ListingOrderTerms(listing_id=listing.id)
    terms.instant_accept = enabled
    session.add(terms)
    session.flush()
    return terms
