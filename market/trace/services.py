"""Write side of trace: 確認結果票, transfer tickets, confirmation at the receiving site,
voiding by the issuer, 受領書 and amendments.

Services take the session and the acting user, may flush, and never commit. Every
refusal is a DomainError naming the field; the caller rolls back, so nothing is written
in part. A confirmed final load records the order's delivery through
``market.orders.deliveries.record_delivery``, so the order moves by its own rules.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.catalog.models import Listing, ListingKind, SoilClass
from market.core import audit
from market.db import id_in_range, to_japan, utcnow
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.orders import deliveries, locks
from market.orders.inputs import parse_quantity
from market.orders.models import Order, OrderStatus
from market.orders.states import STATUS_LABELS
from market.trace import locks as ticket_locks
from market.trace.inputs import _optional_id, _qty, _text, parse_local_time
from market.trace.models import (
    Receipt,
    TicketStatus,
    TransferTicket,
)
from market.trace.plans import (
    Plan,
    Site,
    planned_destination,
    planned_origin,
    sheet_for,
    sheet_required,
)

TICKETABLE = (OrderStatus.paid, OrderStatus.in_delivery)  # the states record_delivery accepts


# --- who may see what -------------------------------------------------------------------


def involved_org_ids(session: Session, order: Order) -> set[int]:
    """The order's parties and every organisation a load of it went to."""
    ids = set(order.party_ids())
    ids.update(
        session.scalars(
            select(TransferTicket.receiving_org_id).where(TransferTicket.order_id == order.id)
        ).all()
    )
    plan = planned_destination(session, order)
    if plan is not None and plan.via is not None:
        ids.add(plan.via.organisation_id)
    return ids


def get_record(session: Session, model, record_id: int):
    return session.get(model, record_id) if id_in_range(record_id) else None


def visible_order(session: Session, user: User | None, order_id: int) -> Order:
    order = get_record(session, Order, order_id)
    org_id = getattr(user, "organisation_id", None)
    if order is None or org_id is None or org_id not in involved_org_ids(session, order):
        raise NotFound(_("No such order."))
    return order


def visible_ticket(session: Session, user: User, ticket_id: int) -> TransferTicket:
    ticket = get_record(session, TransferTicket, ticket_id)
    if ticket is None:
        raise NotFound(_("No such ticket."))
    visible_order(session, user, ticket.order_id)
    return ticket


def visible_receipt(session: Session, user: User, receipt_id: int) -> Receipt:
    receipt = get_record(session, Receipt, receipt_id)
    if receipt is None:
        raise NotFound(_("No such receipt."))
    visible_order(session, user, receipt.order_id)
    return receipt


# --- tickets ----------------------------------------------------------------------------


def first_leg_committed(session: Session, order: Order) -> Decimal:
    """Quantity already on its way or delivered: first-leg tickets (as received once
    confirmed; void tickets not at all) plus deliveries recorded by hand rather than by ticket."""
    tickets = session.scalars(
        select(TransferTicket).where(
            TransferTicket.order_id == order.id,
            TransferTicket.onward.is_(False),
            TransferTicket.status != TicketStatus.void,
        )
    ).all()
    ticketed = sum(
        (Decimal(t.quantity_received if t.confirmed else t.quantity) for t in tickets), Decimal(0)
    )
    from_tickets = {
        t.delivery_id
        for t in session.scalars(
            select(TransferTicket).where(TransferTicket.order_id == order.id)
        ).all()
        if t.delivery_id
    }
    by_hand = sum(
        (Decimal(d.quantity) for d in order.deliveries if d.id not in from_tickets), Decimal(0)
    )
    return ticketed + by_hand


def stock_at_yard(session: Session, order_id: int, yard_listing_id: int) -> Decimal:
    """This order's soil received at a stockyard in transit and not yet sent onward (void
    onward tickets send nothing)."""
    tickets = session.scalars(
        select(TransferTicket).where(
            TransferTicket.order_id == order_id, TransferTicket.status != TicketStatus.void
        )
    ).all()
    into = sum(
        (
            Decimal(t.quantity_received)
            for t in tickets
            if t.transit and t.confirmed and t.destination_listing_id == yard_listing_id
        ),
        Decimal(0),
    )
    out = sum(
        (
            Decimal(t.quantity)
            for t in tickets
            if t.onward and t.origin_listing_id == yard_listing_id
        ),
        Decimal(0),
    )
    return into - out


def _destination(
    session: Session, order: Order, plan: Plan | None, listing_id: int | None, errors: dict
) -> tuple[Site, str, int, bool] | None:
    """(site, kind, receiving organisation, transit) for a load."""
    field = "destination_listing_id"
    if field in errors:
        return None
    if listing_id is None:
        if plan is None:
            errors[field] = _("Choose a destination: this order has no planned destination yet.")
            return None
        site = plan.destination
        kind = "declared"
        if site.listing_id is not None:
            listing = session.get(Listing, site.listing_id)
            kind = "stockyard" if listing.kind == ListingKind.stockyard else "site"
        return site, kind, order.buyer_org_id, False
    listing = session.get(Listing, listing_id)
    if listing is None or listing.kind not in (ListingKind.soil_want, ListingKind.stockyard):
        errors[field] = _("Must be a soil-receiving site or a stockyard.")
        return None
    if listing.kind == ListingKind.stockyard and listing.organisation_id != order.buyer_org_id:
        return Site.of(listing), "stockyard", listing.organisation_id, True
    if listing.organisation_id != order.buyer_org_id:
        errors[field] = _("Must be a site of the receiving organisation or a stockyard.")
        return None
    kind = "stockyard" if listing.kind == ListingKind.stockyard else "site"
    return Site.of(listing), kind, order.buyer_org_id, False


def _matches(plan: Plan | None, site: Site, transit: bool, onward: bool) -> bool | None:
    if plan is None:
        return None
    if transit:
        return plan.via is not None and plan.via.id == site.listing_id
    if plan.destination.listing_id is not None:
        return plan.destination.listing_id == site.listing_id
    return (plan.destination.name, plan.destination.address) == (site.name, site.address)


def issue_ticket(
    session: Session, user: User, order_id: int, data: Mapping[str, object]
) -> TransferTicket:
    """A truckload leaves: from the order's site (either party issues) or onward from a
    stockyard holding the order's soil (the yard's operator issues). In steps: who may
    issue from where, the form (every field error at once), then under the order's lock
    what is still there to send, then the ticket."""
    order = _ticketable_order(session, user, order_id)
    errors: dict[str, str] = {}
    origin_listing, onward = _origin_listing(session, order, data, errors)
    _refuse_issuer(session, user, order, origin_listing, onward)
    origin = Site.of(origin_listing) if onward else _origin_site(order, data, errors)
    plan = planned_destination(session, order)
    destination = _destination(
        session, order, plan, _optional_id(data, "destination_listing_id", errors), errors
    )
    if destination is not None and destination[3] and onward:
        errors["destination_listing_id"] = _(
            "From a stockyard the soil goes to the receiving site."
        )
    if (
        destination is not None
        and origin_listing is not None
        and destination[0].listing_id == origin_listing.id
    ):
        errors["destination_listing_id"] = _("Must differ from the origin.")
    load = _load_input(session, order, data, errors)
    if errors:
        raise Invalid(errors)
    locked_order = locks.lock_order(session, order.id)  # one issuer at a time per order
    if locked_order.status not in TICKETABLE:
        raise Conflict(
            _("The order changed meanwhile; reload the page and try again."), field="order"
        )
    _refuse_beyond_available(session, locked_order, origin_listing if onward else None, load)
    ticket = _new_ticket(session, user, order, origin, destination, plan, onward, load)
    session.add(ticket)
    session.flush()
    return ticket


def _ticketable_order(session: Session, user: User, order_id: int) -> Order:
    order = visible_order(session, user, order_id)
    if order.status not in TICKETABLE:
        raise Conflict(
            _(
                "Loads can be ticketed only while the order is paid or in delivery (it is %(status)s).",
                status=str(STATUS_LABELS[order.status]),
            ),
            field="order",
        )
    return order


def _origin_listing(
    session: Session, order: Order, data: Mapping[str, object], errors: dict
) -> tuple[Listing | None, bool]:
    """The listing the load leaves from, if named, and whether that is onward from a
    stockyard (not one of the order's parties' own)."""
    origin_listing_id = _optional_id(data, "origin_listing_id", errors)
    if origin_listing_id is None:
        return None, False
    origin_listing = session.get(Listing, origin_listing_id)
    if origin_listing is None:
        errors["origin_listing_id"] = _("No such listing.")
    elif (
        origin_listing.kind == ListingKind.stockyard
        and origin_listing.organisation_id != order.buyer_org_id
        and origin_listing.organisation_id != order.seller_org_id
    ):
        return origin_listing, True
    elif origin_listing.id != order.listing_id:
        errors["origin_listing_id"] = _("Must be the order's site or a stockyard holding its soil.")
    return origin_listing, False


def _refuse_issuer(
    session: Session, user: User, order: Order, origin_listing: Listing | None, onward: bool
) -> None:
    """Onward loads are the yard operator's to ticket, others a party's; a large soil
    order needs its check sheet before the first load."""
    if onward:
        if user.organisation_id != origin_listing.organisation_id:
            raise Forbidden(
                _("Only the stockyard's operator issues tickets from the stockyard."),
                field="origin_listing_id",
            )
    elif user.organisation_id not in order.party_ids():
        raise Forbidden(_("Only a party to the order issues tickets from its site."), field="order")
    if sheet_required(order) and sheet_for(session, order.id) is None:
        raise Conflict(
            _(
                "Record the check sheet before the first load: the order is %(n)s m³.",
                n=_qty(order.quantity),
            ),
            field="confirmation_sheet",
        )


def _origin_site(order: Order, data: Mapping[str, object], errors: dict) -> Site:
    """The site a first-leg load leaves from: as typed, else the order's planned origin."""
    default = planned_origin(order)
    name = _text(data, "origin_name", 200, errors) or (default.name if default else "")
    address = _text(data, "origin_address", 300, errors) or (default.address if default else "")
    if not name and "origin_name" not in errors:
        errors["origin_name"] = _("Enter the origin site's name.")
    if not address and "origin_address" not in errors:
        errors["origin_address"] = _("Enter the origin site's address.")
    return Site(
        name,
        address,
        order.listing_id if default else None,
        default.lat if default else None,
        default.lon if default else None,
    )


@dataclass(frozen=True)
class _Load:
    vehicle: str
    driver: str
    soil_class: str
    time_out: dt.datetime
    quantity: Decimal | None


def _load_input(session: Session, order: Order, data: Mapping[str, object], errors) -> _Load:
    vehicle = _text(data, "vehicle_reg_no", 40, errors, required=True)
    driver = _text(data, "driver_name", 100, errors, required=True)
    soil_class = _text(data, "soil_class_code", 8, errors) or (order.listing.soil_class_code or "")
    if (
        soil_class
        and "soil_class_code" not in errors
        and session.get(SoilClass, soil_class) is None
    ):
        errors["soil_class_code"] = _("No such soil class.")
    time_out = parse_local_time(data.get("time_out"), "time_out", errors, default=utcnow())
    quantity = None
    try:
        quantity = parse_quantity(data.get("quantity"))
    except Invalid as exc:
        errors.update(exc.errors)
    return _Load(vehicle, driver, soil_class, time_out, quantity)


def _refuse_beyond_available(
    session: Session, order: Order, yard: Listing | None, load: _Load
) -> None:
    """More than is at the stockyard (onward), or than the order has not yet ticketed or
    delivered (first leg), is refused; called under the order's lock."""
    if yard is not None:
        available = stock_at_yard(session, order.id, yard.id)
        if load.quantity > available:
            raise Conflict(
                _(
                    "Only %(n)s %(unit)s of this order are at the stockyard.",
                    n=_qty(available),
                    unit=order.unit,
                ),
                field="quantity",
            )
        return
    available = Decimal(order.quantity) - first_leg_committed(session, order)
    if load.quantity > available:
        raise Conflict(
            _(
                "Only %(n)s %(unit)s of the order are not yet ticketed or delivered.",
                n=_qty(max(available, Decimal(0))),
                unit=order.unit,
            ),
            field="quantity",
        )


def _new_ticket(session, user, order, origin, destination, plan, onward, load) -> TransferTicket:
    site, kind, receiving_org_id, transit = destination
    # Void tickets keep their numbers: the next one is past every ticket ever issued.
    seq = (
        session.scalar(
            select(func.max(TransferTicket.seq)).where(TransferTicket.order_id == order.id)
        )
        or 0
    ) + 1
    return TransferTicket(
        order_id=order.id,
        seq=seq,
        onward=onward,
        transit=transit,
        origin_listing_id=origin.listing_id,
        origin_name=origin.name,
        origin_address=origin.address,
        origin_lat=origin.lat,
        origin_lon=origin.lon,
        destination_listing_id=site.listing_id,
        destination_name=site.name,
        destination_address=site.address,
        destination_lat=site.lat,
        destination_lon=site.lon,
        destination_kind=kind,
        receiving_org_id=receiving_org_id,
        planned_name=(
            plan.via.title
            if transit and plan and plan.via
            else plan.destination.name
            if plan
            else ""
        )[:200],
        planned_address=(
            (plan.via.address if transit and plan and plan.via else plan.destination.address)
            if plan
            else ""
        )[:300]
        or "",
        matches_plan=_matches(plan, site, transit, onward),
        soil_class_code=load.soil_class or None,
        vehicle_reg_no=load.vehicle,
        driver_name=load.driver,
        quantity=load.quantity,
        unit=order.unit,
        time_out=load.time_out,
        token=secrets.token_urlsafe(24),
        issued_by_id=user.id,
        issued_by_org_id=user.organisation_id,
    )


def ticket_by_token(session: Session, token: str) -> TransferTicket:
    ok = 0 < len(token) <= 64
    ticket = (
        session.scalar(select(TransferTicket).where(TransferTicket.token == token)) if ok else None
    )
    if ticket is None:
        raise NotFound(_("No such ticket."))
    return ticket


def _refuse_void(ticket: TransferTicket) -> None:
    if ticket.void:
        raise Conflict(
            _(
                "Ticket %(code)s was voided on %(date)s (%(reason)s); it cannot be received.",
                code=ticket.code,
                date=to_japan(ticket.voided_at).strftime("%Y-%m-%d %H:%M"),
                reason=ticket.void_reason,
            ),
            field="ticket",
        )


def confirm_ticket(
    session: Session, user: User, token: str, data: Mapping[str, object]
) -> tuple[TransferTicket, bool]:
    """The receiving site confirms arrival. Returns (ticket, changed): a second scan of a
    confirmed ticket changes nothing. A void ticket is refused."""
    ticket = ticket_by_token(session, token)
    if user.organisation_id != ticket.receiving_org_id:
        raise Forbidden(
            _(
                "Only %(org)s, the receiving site, can confirm this load.",
                org=ticket.receiving_org.name,
            ),
            field="ticket",
        )
    locked = ticket_locks.fresh_ticket(session, ticket.id, lock=True)
    if locked.confirmed:
        return locked, False
    _refuse_void(locked)
    errors: dict[str, str] = {}
    received = Decimal(locked.quantity)
    if str(data.get("quantity_received") or "").strip():
        try:
            received = parse_quantity(data.get("quantity_received"), "quantity_received")
            if received > Decimal(locked.quantity):
                errors["quantity_received"] = _(
                    "Cannot exceed the %(n)s %(unit)s the ticket says were loaded.",
                    n=_qty(locked.quantity),
                    unit=locked.unit,
                )
        except Invalid as exc:
            errors.update(exc.errors)
    note = _text(data, "discrepancy_note", 2000, errors)
    if (
        "quantity_received" not in errors
        and received != Decimal(locked.quantity)
        and not note
        and "discrepancy_note" not in errors
    ):
        errors["discrepancy_note"] = _(
            "Say what differs: the quantity received is not the quantity loaded."
        )
    time_in = parse_local_time(data.get("time_in"), "time_in", errors, default=utcnow())
    if time_in is not None and time_in < locked.time_out:
        errors["time_in"] = _(
            "Cannot be before the time out (%(t)s).",
            t=to_japan(locked.time_out).strftime("%Y-%m-%d %H:%M"),
        )
    if errors:
        raise Invalid(errors)
    delivery_id = None
    if not locked.transit:
        delivery = deliveries.record_delivery(
            session,
            user,
            locked.order_id,
            {
                "quantity": received,
                "delivered_on": to_japan(time_in).date().isoformat(),
                "reference": f"{_('Ticket')} {locked.code}"[:100],
            },
        )
        delivery_id = delivery.id
    settled = ticket_locks.settle(
        session,
        locked.id,
        TicketStatus.confirmed,
        time_in=time_in,
        quantity_received=received,
        discrepancy_note=note,
        confirmed_by_id=user.id,
        confirmed_by_org_id=user.organisation_id,
        delivery_id=delivery_id,
    )
    if not settled:  # voided or confirmed meanwhile: the caller rolls the delivery back
        _refuse_void(locked)
        return locked, False
    return locked, True


def void_ticket(
    session: Session, user: User, ticket_id: int, data: Mapping[str, object]
) -> TransferTicket:
    """The issuing organisation voids a ticket whose load never arrived (or was issued by
    mistake). The row stays, marked void with who, when and why; its number is not reused
    and it counts in no total. Only while nobody has confirmed it."""
    ticket = visible_ticket(session, user, ticket_id)
    if user.organisation_id != ticket.issued_by_org_id:
        raise Forbidden(
            _(
                "Only %(org)s, which issued this ticket, can void it.",
                org=ticket.issued_by_org.name,
            ),
            field="ticket",
        )
    current = ticket_locks.fresh_ticket(session, ticket.id)
    _refuse_settled(current)
    errors: dict[str, str] = {}
    reason = _text(data, "reason", 2000, errors, required=True)
    if errors:
        raise Invalid(errors)
    if not ticket_locks.settle(
        session,
        current.id,
        TicketStatus.void,
        voided_at=utcnow(),
        voided_by_id=user.id,
        voided_by_org_id=user.organisation_id,
        void_reason=reason,
    ):
        _refuse_settled(current)  # the receiving site confirmed it (or it was voided) meanwhile
    audit.record(
        session,
        user,
        "trace.ticket_void",
        f"ticket:{current.id}",
        code=current.code,
        order_id=current.order_id,
        quantity=str(current.quantity),
        reason=reason,
    )
    session.flush()
    return current


def _refuse_settled(ticket: TransferTicket) -> None:
    if ticket.confirmed:
        raise Conflict(
            _(
                "Ticket %(code)s was already received by the destination; it cannot be voided. "
                "Record an amendment instead.",
                code=ticket.code,
            ),
            field="ticket",
        )
    if ticket.void:
        raise Conflict(_("Ticket %(code)s is already void.", code=ticket.code), field="ticket")
