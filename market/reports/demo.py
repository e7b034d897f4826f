"""Demo figures for the dashboards: completed orders with deliveries over the past months
(surplus soil, reuse items picked up through slots, recycled grades). Called at the end
of ``market.demo.load_demo``; deterministic for its seed."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, OrgKind, Partnership
from market.catalog.models import Listing, ListingKind, ListingStatus, ReuseCategory
from market.orders import ledger
from market.orders.models import Delivery, Order, OrderStatus, OrderTransition
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot


def _order(
    session: Session,
    listing: Listing,
    buyer: Organisation,
    quantity: Decimal,
    status: OrderStatus,
    created: dt.datetime,
) -> Order:
    order = Order(
        listing=listing,
        requester_org_id=buyer.id,
        responder_org_id=listing.organisation_id,
        buyer_org_id=buyer.id,
        seller_org_id=listing.organisation_id,
        description=listing.title[:200],
        quantity=quantity,
        unit=listing.unit,
        unit_price_yen=listing.price_per_unit,
        status=status,
        created_at=created,
        updated_at=created,
    )
    session.add(order)
    session.add(
        OrderTransition(
            order=order,
            action="request",
            from_status=None,
            to_status=status.value,
            note="demo",
            created_at=created,
        )
    )
    session.flush()
    # Through the ledger like any order: committed, and handed over once completed.
    if not ledger.reserve(session, listing.id, quantity, order_id=order.id):
        raise ledger.LedgerError(f"demo listing {listing.id} cannot take {quantity}")
    if status == OrderStatus.completed:
        ledger.deliver_order(session, order, quantity)
    if Decimal(listing.open_quantity) <= 0:
        listing.status = ListingStatus.closed
    return order


def _past_item(
    session: Session, rng: random.Random, sample: Listing, category, day: dt.date
) -> Listing:
    """A bulky-waste item a municipality listed some weeks before ``day``, in its own town."""
    city = sample.address or ""
    item = Listing(
        kind=ListingKind.reuse_item,
        status=ListingStatus.open,
        organisation_id=sample.organisation_id,
        created_by_id=sample.created_by_id,
        title=f"粗大ごみリユース品: {category.name_ja}（{city}）",
        description=f"粗大ごみとして収集された{category.name_ja}です。清掃・動作確認済み。引取りのみ。",
        lat=round(sample.lat + rng.gauss(0, 0.01), 5),
        lon=round(sample.lon + rng.gauss(0, 0.01), 5),
        prefecture_code=sample.prefecture_code,
        municipality_code=sample.municipality_code,
        address=sample.address,
        window_start=day - dt.timedelta(days=14),
        window_end=day + dt.timedelta(days=7),
        quantity=Decimal(1),
        open_quantity=Decimal(1),
        unit="item",
        price_per_unit=rng.choice([0, 100, 300, 500, 1000]),
        reuse_category_code=category.code,
        condition=rng.choice(["A", "B", "B", "C"]),
        pickup_point=sample.pickup_point,
        created_at=dt.datetime.combine(day - dt.timedelta(days=14), dt.time(1, 0)),
    )
    session.add(item)
    return item


def completed_trades(session: Session, seed: int, today: dt.date) -> int:
    rng = random.Random(seed)
    orgs: dict[OrgKind, list[Organisation]] = {}
    for org in session.scalars(select(Organisation).order_by(Organisation.id)):
        orgs.setdefault(org.kind, []).append(org)

    def listings(kind: ListingKind, limit: int) -> list[Listing]:
        return list(
            session.scalars(
                select(Listing)
                .where(Listing.kind == kind, Listing.status == ListingStatus.open)
                .order_by(Listing.id)
                .limit(limit)
            )
        )

    def past(days_max: int) -> dt.date:
        return today - dt.timedelta(days=rng.randint(0, days_max))

    n = 0
    # A year of soil and recycled-material trades, a few a month.
    for listing in listings(ListingKind.soil_offer, 18) + listings(ListingKind.recycled_offer, 10):
        buyer = rng.choice([o for o in orgs[OrgKind.contractor] if o.id != listing.organisation_id])
        quantity = min(Decimal(listing.open_quantity), Decimal(rng.choice([150, 300, 600, 900])))
        loads = sorted(past(355) for _ in range(rng.randint(2, 3)))
        order = _order(
            session,
            listing,
            buyer,
            quantity,
            OrderStatus.completed,
            dt.datetime.combine(loads[0] - dt.timedelta(days=7), dt.time(1, 0)),
        )
        share = (quantity / len(loads)).quantize(Decimal("0.001"))
        for i, day in enumerate(loads):
            last = i == len(loads) - 1
            session.add(
                Delivery(
                    order=order,
                    quantity=quantity - share * (len(loads) - 1) if last else share,
                    delivered_on=day,
                    reference=f"搬出伝票 D-{order.listing_id}-{i + 1}",
                )
            )
        n += 1

    partners: dict[int, list[int]] = {}
    for p in session.scalars(select(Partnership).order_by(Partnership.id)):
        partners.setdefault(p.municipality_id, []).append(p.operator_id)
    by_id = {o.id: o for o in orgs.get(OrgKind.reuse_operator, [])}
    categories = session.scalars(select(ReuseCategory).order_by(ReuseCategory.code)).all()
    for city in orgs.get(OrgKind.municipality, []):
        operators = [by_id[i] for i in partners.get(city.id, []) if i in by_id]
        sample = session.scalars(
            select(Listing)
            .where(Listing.kind == ListingKind.reuse_item, Listing.organisation_id == city.id)
            .order_by(Listing.id)
        ).first()
        if sample is None or not operators or not categories:
            continue
        # The items of the past year, already taken: more in spring, when people move.
        items = []
        for months_ago in range(12):
            month_day = today - dt.timedelta(days=30 * months_ago + 15)
            for _ in range(rng.randint(2, 3) + (3 if month_day.month in (3, 4) else 0)):
                day = month_day + dt.timedelta(days=rng.randint(-12, 12))
                if day > today:
                    continue
                items.append((_past_item(session, rng, sample, rng.choice(categories), day), day))
        session.flush()
        for item, _day in items:  # its quantity enters the ledger like any listing's
            ledger.publish(session, item)
        for item, day in items:
            operator = rng.choice(operators)
            showed = rng.random() > 0.15
            order = _order(
                session,
                item,
                operator,
                Decimal(1),
                OrderStatus.completed if showed else OrderStatus.paid,
                dt.datetime.combine(day - dt.timedelta(days=3), dt.time(2, 0)),
            )
            slot = PickupSlot(
                municipality_org_id=city.id,
                listing_id=item.id,
                pickup_point=item.pickup_point or "",
                slot_date=day,
                starts_at=dt.time(10),
                ends_at=dt.time(12),
                capacity=2,
                booked=1,
                checkin_code=f"{rng.randrange(10**6):06d}",
            )
            session.add(slot)
            stamp = dt.datetime.combine(day, dt.time(2, 30))  # 11:30 JST, stored as UTC
            session.add(
                PickupBooking(
                    slot=slot,
                    order=order,
                    operator_org_id=operator.id,
                    status=BookingStatus.checked_in if showed else BookingStatus.no_show,
                    checked_in_at=stamp if showed else None,
                    no_show_at=None if showed else stamp,
                    reminded_at=stamp - dt.timedelta(days=1),
                )
            )
            if showed:
                session.add(
                    Delivery(order=order, quantity=Decimal(1), delivered_on=day, reference="pickup")
                )
            n += 1
    session.flush()
    return n
