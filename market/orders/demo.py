"""Demo orders still under way, made through the real services (reservation, state table,
invoice, notifications, pickup booking), so a visitor signed in as a demo member finds
something to do at each stage: a request to answer, an invoice to pay, a pickup to book
or cancel. Called at the end of ``market.demo.load_demo``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, OrgKind, Partnership, User
from market.catalog.models import Listing, ListingKind, ListingStatus
from market.orders import moves, requests, transitions
from market.orders.models import Order
from market.pickups import services as pickups


def _member(session: Session, org_id: int) -> User:
    return session.scalars(
        select(User).where(User.organisation_id == org_id).order_by(User.id)
    ).first()


def _open(
    session: Session,
    kind: ListingKind,
    org_id: int | None = None,
    *,
    not_org: int | None = None,
    minimum: Decimal = Decimal(1),
) -> Listing | None:
    query = (
        select(Listing)
        .where(
            Listing.kind == kind,
            Listing.status == ListingStatus.open,
            Listing.open_quantity >= minimum,
        )
        .order_by(Listing.id)
    )
    if org_id is not None:
        query = query.where(Listing.organisation_id == org_id)
    if not_org is not None:
        query = query.where(Listing.organisation_id != not_org)
    return session.scalars(query).first()


def _request(
    session: Session, buyer: User, listing: Listing, quantity: Decimal, note: str
) -> Order:
    return requests.request_order(
        session,
        buyer,
        listing.id,
        {"quantity": str(quantity), "transport_arrangement": "receiver_collects", "note": note},
    )


def open_trades(session: Session, today: dt.date) -> int:
    """Orders at every open stage around the first contractor (demo1) and the first reuse
    operator (demo15); returns how many were made."""

    def orgs(kind: OrgKind) -> list[Organisation]:
        return list(
            session.scalars(
                select(Organisation).where(Organisation.kind == kind).order_by(Organisation.id)
            )
        )

    contractors, operators = orgs(OrgKind.contractor), orgs(OrgKind.reuse_operator)
    if len(contractors) < 3 or not operators:
        return 0
    made = 0
    me, neighbour, other = (_member(session, o.id) for o in contractors[:3])

    # 1. A neighbour asks for part of demo1's surplus soil: demo1 has a request to answer.
    mine = _open(session, ListingKind.soil_offer, me.organisation_id, minimum=Decimal(300))
    if mine is not None:
        _request(session, neighbour, mine, Decimal(200), "来週から10tダンプで引取りたいです。")
        made += 1
    # 2. demo1 asked another contractor for soil; it was accepted and invoiced.
    theirs = _open(session, ListingKind.soil_offer, other.organisation_id, minimum=Decimal(300))
    if theirs is not None:
        order = _request(session, me, theirs, Decimal(150), "盛土材として使用予定です。")
        transitions.perform(session, other, order.id, "accept", {"transport_fee_yen": "30000"})
        payee = moves.payer_payee(order)[1]
        transitions.perform(session, _member(session, payee), order.id, "issue_invoice")
        made += 1

    # 3. Reuse: the first operator's partner municipality sold it two items, both paid;
    #    one pickup is booked for tomorrow, the other waits for the operator to book.
    operator = _member(session, operators[0].id)
    partner = session.scalar(
        select(Partnership.municipality_id)
        .where(Partnership.operator_id == operator.organisation_id)
        .order_by(Partnership.id)
    )
    if partner is None:
        return made
    city = _member(session, partner)
    items = list(
        session.scalars(
            select(Listing)
            .where(
                Listing.kind == ListingKind.reuse_item,
                Listing.organisation_id == partner,
                Listing.status == ListingStatus.open,
                Listing.open_quantity >= 1,
                Listing.price_per_unit > 0,  # a free item's ¥0 invoice is settled at once
            )
            .order_by(Listing.id.desc())
            .limit(2)
        )
    )
    tomorrow = today + dt.timedelta(days=1)
    slot = None
    for number, item in enumerate(items):
        order = _request(session, operator, item, Decimal(1), "引取りに伺います。")
        for action in ("accept", "issue_invoice", "mark_paid"):
            transitions.perform(session, city, order.id, action)
        if slot is None:
            slot, *_ = pickups.open_slots(
                session,
                city,
                {
                    "slot_date": tomorrow.isoformat(),
                    "starts_at": "10:00",
                    "ends_at": "12:00",
                    "capacity": "4",
                    "pickup_point": item.pickup_point or "リユース品置場",
                    "weeks": "4",
                },
            )
        if number == 0:
            pickups.book(session, operator, slot.id, order.id)
        made += 1
    return made
