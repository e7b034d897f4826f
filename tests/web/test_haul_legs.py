"""Distances, transport CO2 and the haul basis come from what the deal recorded: the
transfer tickets' legs, the yard on the way and the planned destination, then the
counterparty's listed sites, and only last its registered address (docs/reports.md).

The supplier's site is in 江東区 (the factory's default pin); the receiver's head office is
registered in 栃木県 (宇都宮市), ~100 km away, while its sites are around Tokyo Bay."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from market.accounts.models import Organisation
from market.allocation.models import MatchRun, Proposal
from market.catalog.models import Listing
from market.factors.calc import great_circle_km, haul_co2
from market.trace.models import Receipt
from tests.web.test_orders import Reader, act, request_quantity
from tests.web.test_reports import signed_in
from tests.web.test_trace import issue, ticket_id_from, token_of

KOTO = (35.6727, 139.8171)  # the supplier's site (listing_data's pin)
YOKOHAMA = (35.4660, 139.6220)  # a yard / a fill site in 横浜市
FUNABASHI = (35.6947, 139.9826)  # the receiver's nearest site, 船橋市
SHIN_YOKOHAMA = (35.5079, 139.6176)
ROAD = 1.3


def road(a, b) -> float:
    return round(great_circle_km(*a, *b) * ROAD, 1)


def impact_haul(client, order_id: int) -> tuple[float, str]:
    page = client.get(f"/orders/{order_id}/impact").get_data(as_text=True)
    match = re.search(r'<p id="haul">([\d.,]+) road km, from: ([^;]+);', page)
    assert match, page
    return float(match.group(1).replace(",", "")), match.group(2).strip()


def pin(app, listing_id: int, where: tuple[float, float]) -> None:
    def move(s):
        listing = s.get(Listing, listing_id)
        listing.lat, listing.lon = where
        s.commit()

    Reader(app)(move)


def head_office_in_tochigi(app, org_id: int) -> None:
    def move(s):
        s.get(Organisation, org_id).prefecture_code = "09"
        s.commit()

    Reader(app)(move)


def listing_order(app, factory):
    """40 m³ of soil (¥0) ordered by a receiver registered in 栃木県, accepted and paid."""
    supplier, receiver = factory.user(), factory.user()
    head_office_in_tochigi(app, receiver.org_id)
    offer = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=0)
    seller, buyer = signed_in(app, supplier), signed_in(app, receiver)
    order_id = request_quantity(buyer, offer, quantity="40")
    assert act(seller, order_id, "accept").status_code == 302
    for client in (seller, buyer):  # at ¥0 the order is waived to paid
        act(client, order_id, "issue_invoice")
    return receiver, seller, buyer, order_id


def test_a_listing_order_is_measured_along_its_recorded_leg_not_to_the_head_office(app, factory):
    receiver, seller, buyer, order_id = listing_order(app, factory)

    # Nothing recorded and no site listed: the registered address is all there is, and the
    # page says so.
    km, basis = impact_haul(seller, order_id)
    assert km > 100 and "registered address" in basis

    # The receiver lists two sites: the nearest one is the estimate until a load leaves.
    near = factory.listing(receiver, "soil_want", title="船橋 盛土")
    pin(app, near, FUNABASHI)
    fill = factory.listing(receiver, "soil_want", title="横浜 宅地造成")
    pin(app, fill, YOKOHAMA)
    assert impact_haul(seller, order_id) == (
        road(KOTO, FUNABASHI),
        "listing to the counterparty's nearest site",
    )

    # The truck goes to Yokohama: the recorded leg is the distance, on the page and on the
    # dashboard's per-order table, whatever the head office or the nearest site.
    ticket = ticket_id_from(issue(seller, order_id, quantity="8", destination_listing_id=str(fill)))
    assert buyer.post(f"/t/{token_of(Reader(app), ticket)}", data={}).status_code == 302
    expected = road(KOTO, YOKOHAMA)
    assert 30 < expected < 45 < km  # the head office estimate was over 100 km
    assert impact_haul(seller, order_id) == (expected, "the transfer tickets' recorded legs")
    rows = seller.get("/dashboard/orders.csv").data.decode("utf-8-sig").splitlines()
    assert any(
        line.startswith(f"{order_id},") and f",{expected}," in line and "recorded legs" in line
        for line in rows
    ), rows

    # The receipt carries the same leg and the CO2 of that load (8 m³ × 1.8 t in a 10 t
    # truck, empty return), not a figure from any address.
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "所長"}
    )
    assert response.status_code == 302
    content = Reader(app)(lambda s: s.scalars(select(Receipt)).one().content)
    assert content["haul"]["road_km"] == f"{expected:.1f}"
    assert content["tickets"][0]["km"] == f"{great_circle_km(*KOTO, *YOKOHAMA):.1f}"
    co2 = haul_co2(8 * 1.8, expected, 10_000).co2_kg
    assert content["haul"]["transport_co2_kg"] == f"{co2:.1f}"
    page = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert f"延べ {expected:.1f} km" in page and f"{co2:.1f} kg" in page
    pdf = buyer.get(response.headers["Location"] + ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_a_load_through_a_yard_counts_both_legs_and_plans_the_one_not_yet_driven(app, factory):
    from market.orders.requests import order_from_proposal

    supplier, receiver = factory.user(), factory.user()
    operator = factory.user("stockyard_operator")
    head_office_in_tochigi(app, receiver.org_id)
    supply = factory.listing(supplier, "soil_offer", quantity=300, price_per_unit=0)
    demand = factory.listing(receiver, "soil_want", quantity=300, title="新横浜 道路盛土")
    yard = factory.listing(operator, "stockyard", title="横浜ヤード")
    pin(app, yard, YOKOHAMA)
    pin(app, demand, SHIN_YOKOHAMA)

    def agree(s):
        run = MatchRun(family="soil", region=["13"], status="done")
        s.add(run)
        s.flush()
        proposal = Proposal(
            run_id=run.id,
            supply_id=supply,
            demand_id=demand,
            via_id=yard,
            quantity=100,
            road_km=132.4,  # whatever the run priced: recorded legs take precedence
            transport_cost=1,
            co2_kg=1,
            net_benefit=1,
            supply_saving=1,
            demand_saving=1,
        )
        s.add(proposal)
        s.flush()
        order = order_from_proposal(
            s,
            listing_id=supply,
            counterparty_org_id=receiver.org_id,
            quantity=Decimal(100),
            proposal_ref=f"proposal:{proposal.id}",
        )
        s.commit()
        return order.id

    with app.test_request_context():
        order_id = Reader(app)(agree)
    seller, buyer, yard_client = (signed_in(app, m) for m in (supplier, receiver, operator))
    for client in (seller, buyer):
        act(client, order_id, "issue_invoice")
    # No load yet: the plan the deal agreed.
    assert impact_haul(seller, order_id) == (132.4, "matching proposal")

    into_yard = ticket_id_from(
        issue(seller, order_id, quantity="30", destination_listing_id=str(yard))
    )
    assert yard_client.post(f"/t/{token_of(Reader(app), into_yard)}", data={}).status_code == 302
    # At the yard: the recorded first leg plus the yard → planned destination still to go.
    first = great_circle_km(*KOTO, *YOKOHAMA)
    onward_plan = great_circle_km(*YOKOHAMA, *SHIN_YOKOHAMA)
    assert impact_haul(seller, order_id) == (
        round((first + onward_plan) * ROAD, 1),
        "the transfer tickets' recorded legs",
    )

    # Onward, but to another of the receiver's sites: the leg driven counts, not the plan.
    other = factory.listing(receiver, "soil_want", title="船橋 盛土")
    pin(app, other, FUNABASHI)
    onward = ticket_id_from(
        issue(
            yard_client,
            order_id,
            quantity="30",
            origin_listing_id=str(yard),
            destination_listing_id=str(other),
        )
    )
    assert buyer.post(f"/t/{token_of(Reader(app), onward)}", data={}).status_code == 302
    driven = great_circle_km(*YOKOHAMA, *FUNABASHI)
    assert impact_haul(buyer, order_id) == (
        round((first + driven) * ROAD, 1),
        "the transfer tickets' recorded legs",
    )
