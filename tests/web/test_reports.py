"""The "done when" path of the dashboards: a completed soil order with deliveries shows on
the contractor's dashboard, reuse items picked up show on the municipality's, every CSV
matches its table, factors are editable data, and bad input changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from sqlalchemy import func, select

from market.accounts.models import User
from market.db import japan_today
from market.factors.calc import StatusQuo, delivery_impact
from market.factors.models import ImpactFactor, OrderHaul
from market.factors.tables import load_factors
from tests.conftest import PASSWORD

REG_A, REG_B = "T1234567890123", "T9876543210987"


def signed_in(app, member):
    client = app.test_client()
    assert (
        client.post("/login", data={"email": member.email, "password": PASSWORD}).status_code == 302
    )
    client.post("/lang/en", data={"next": "/"})
    return client


def read(app, fn):
    with app.app_context():
        session = app.extensions["meguri.db"].session()
        result = fn(session)
        session.expunge_all()
        return result


def act(client, order_id, action, **form):
    response = client.post(f"/orders/{order_id}/actions/{action}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)


def deliver(client, order_id, quantity, day):
    response = client.post(
        f"/orders/{order_id}/deliveries", data={"quantity": quantity, "delivered_on": day}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def request_order(client, listing_id, quantity):
    response = client.post(
        f"/listings/{listing_id}/orders/new",
        data={"quantity": quantity, "transport_arrangement": "receiver_collects"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def section(page: str, slug: str) -> str:
    match = re.search(rf'<section class="card" id="table-{slug}">(.*?)</section>', page, re.S)
    assert match, f"no table {slug}"
    return match.group(1)


def html_rows(fragment: str) -> list[list[str]]:
    body = fragment.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def normal(text: str) -> str:
    text = text.replace("¥", "").replace(",", "").replace("%", "").replace("#", "").strip()
    return "" if text == "—" else text


def assert_csv_matches_page(client, page: str, url_prefix: str, slug: str) -> list[list[str]]:
    response = client.get(f"{url_prefix}/{slug}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # BOM: Excel in Japan reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    shown = html_rows(section(page, slug))
    assert [[normal(c) for c in r] for r in rows[1:]] == [[normal(c) for c in r] for r in shown]
    return rows


@pytest.fixture
def soil_trade(app, factory):
    """60 m³ of 第2b種 soil supplied at -¥1,500/m³, delivered in two loads and completed."""
    supplier = factory.user("contractor", invoice_registration_no=REG_A)
    receiver = factory.user("contractor", invoice_registration_no=REG_B)
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=-1500)
    seller, buyer = signed_in(app, supplier), signed_in(app, receiver)
    order_id = request_order(buyer, listing_id, "60")
    act(seller, order_id, "accept")
    act(buyer, order_id, "issue_invoice")  # the receiver is paid to take the soil
    act(buyer, order_id, "mark_paid")
    today = japan_today()
    deliver(seller, order_id, "40", (today - dt.timedelta(days=40)).isoformat())
    deliver(seller, order_id, "20", today.isoformat())
    act(buyer, order_id, "complete")
    return supplier, receiver, seller, buyer, order_id


def expected_soil(km: float, quantity: float):
    quo = StatusQuo(
        disposal_fee_yen_per_unit=4200,
        virgin_price_yen_per_unit=3000,
        virgin_co2_kg_per_t=2.9,
        disposal_haul_km=40,
        virgin_haul_km=30,
    )
    return delivery_impact(quantity, quantity * 1.8, km, 10_000, -1500, quo)


def test_contractor_dashboard_shows_m3_reused_disposal_cost_avoided_and_co2(app, soil_trade):
    supplier, receiver, seller, buyer, order_id = soil_trade
    page = seller.get("/dashboard").get_data(as_text=True)
    assert "Surplus soil dashboard" in page
    totals = section_totals(page)
    assert totals["m³ reused"] == "60 m³"
    assert totals["m³ supplied"] == "60 m³"
    assert totals["Disposal cost avoided"] == "¥252,000"  # 60 m³ × ¥4,200 receiving fee avoided
    # The haul: the listing's pin to the receiver's prefecture centroid × 1.3, empty return counted.
    impact_page = seller.get(f"/orders/{order_id}/impact").get_data(as_text=True)
    km = float(re.search(r'<p id="haul">([\d.,]+) road km', impact_page).group(1).replace(",", ""))
    assert 10 < km < 20
    net = expected_soil(km, 40).net_co2_kg + expected_soil(km, 20).net_co2_kg
    assert totals["Net CO2 avoided"] == f"{net:,.0f} kg"
    assert "<svg" in section(page, "m3_by_month") and "<rect" in section(page, "m3_by_month")
    months = assert_csv_matches_page(seller, page, "/dashboard", "m3_by_month")
    assert len(months) == 3  # header and two Tokyo months (the loads were 40 days apart)
    for slug in ("savings_by_month", "co2_by_month", "orders"):
        assert_csv_matches_page(seller, page, "/dashboard", slug)

    # The receiver sees the same m³ as received, and the virgin fill it did not buy.
    other = section_totals(buyer.get("/dashboard").get_data(as_text=True))
    assert other["m³ received"] == "60 m³" and other["Virgin fill purchase avoided"] == "¥180,000"
    assert other["Disposal cost avoided"] == "¥0"


def section_totals(page: str) -> dict[str, str]:
    block = re.search(r'<dl class="facts" id="totals">(.*?)</dl>', page, re.S).group(1)
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block.replace("&amp;", "&")))


def test_entered_haul_replaces_the_estimate_and_bad_input_changes_nothing(app, soil_trade):
    supplier, receiver, seller, buyer, order_id = soil_trade
    refused = buyer.post(
        f"/orders/{order_id}/haul", data={"road_km": "-3", "truck_type_code": "dump_10t"}
    )
    assert refused.status_code == 422 and "Must be between" in refused.get_data(as_text=True)
    refused = buyer.post(
        f"/orders/{order_id}/haul", data={"road_km": "25", "truck_type_code": "rocket"}
    )
    assert refused.status_code == 422 and "Choose a truck type" in refused.get_data(as_text=True)
    assert read(app, lambda s: s.scalar(select(func.count()).select_from(OrderHaul))) == 0
    assert (
        buyer.post(
            f"/orders/{order_id}/haul", data={"road_km": "25", "truck_type_code": "dump_10t"}
        ).status_code
        == 302
    )
    page = seller.get(f"/orders/{order_id}/impact").get_data(as_text=True)
    assert "25 road km, from: entered by a party" in page
    net = expected_soil(25, 40).net_co2_kg + expected_soil(25, 20).net_co2_kg
    assert (
        section_totals(seller.get("/dashboard").get_data(as_text=True))["Net CO2 avoided"]
        == f"{net:,.0f} kg"
    )


def test_an_outsider_sees_neither_the_impact_nor_the_haul(app, factory, soil_trade):
    *_, order_id = soil_trade
    outsider = signed_in(app, factory.user("contractor"))
    assert outsider.get(f"/orders/{order_id}/impact").status_code == 404
    assert (
        outsider.post(
            f"/orders/{order_id}/haul", data={"road_km": "5", "truck_type_code": "dump_4t"}
        ).status_code
        == 404
    )
    assert section_totals(outsider.get("/dashboard").get_data(as_text=True))["m³ reused"] == "0 m³"


def test_factors_are_editable_by_site_admins_only_and_change_the_figures(app, factory, soil_trade):
    supplier, *_ = soil_trade
    seller = signed_in(app, supplier)
    listing = seller.get("/reports/factors").get_data(as_text=True)
    assert (
        "4,200" in listing
        and "Greater Tokyo receiving fee" in listing
        and "<form" not in listing.split("<main>")[1]
    )
    assert (
        seller.post(
            "/reports/factors/factor/soil/disposal_fee", data={"value": "5000", "source": "mine"}
        ).status_code
        == 403
    )
    admin_member = factory.user("contractor")
    read(app, lambda s: (setattr(s.get(User, admin_member.id), "is_site_admin", True), s.commit()))
    admin = signed_in(app, admin_member)
    bad = admin.post(
        "/reports/factors/factor/soil/disposal_fee", data={"value": "lots", "source": "x"}
    )
    assert bad.status_code == 422 and "Must be a number" in bad.get_data(as_text=True)
    bad = admin.post(
        "/reports/factors/factor/soil/disposal_fee", data={"value": "5000", "source": ""}
    )
    assert bad.status_code == 422 and "Say where the figure comes from" in bad.get_data(
        as_text=True
    )
    fee = read(app, lambda s: s.get(ImpactFactor, ("soil", "disposal_fee")))
    assert fee.value == 4200 and "[3p]" in fee.source
    ok = admin.post(
        "/reports/factors/factor/soil/disposal_fee",
        data={"value": "5000", "source": "2026 survey of Tokyo receiving sites [U]"},
    )
    assert ok.status_code == 302
    assert (
        section_totals(seller.get("/dashboard").get_data(as_text=True))["Disposal cost avoided"]
        == "¥300,000"
    )
    assert (
        admin.post(
            "/reports/factors/factor/soil/nope", data={"value": "1", "source": "x"}
        ).status_code
        == 404
    )


def test_site_dashboard_counts_optimised_and_manual_orders(app, factory, soil_trade):
    admin_member = factory.user("contractor")
    read(app, lambda s: (setattr(s.get(User, admin_member.id), "is_site_admin", True), s.commit()))
    admin = signed_in(app, admin_member)
    page = admin.get("/dashboard/site").get_data(as_text=True)
    totals = section_totals(page)
    assert totals["Orders made by hand"] == "1" and totals["Orders from optimisation"] == "0"
    assert "Surplus soil" in section(page, "by_family")
    for slug in ("by_family", "matches_by_month"):
        assert_csv_matches_page(admin, page, "/dashboard/site", slug)
    assert admin.get("/dashboard/site/by_family.csv").headers["Cache-Control"] == "no-store"
    member = signed_in(app, factory.user("contractor"))
    assert member.get("/dashboard/site").status_code == 403
    assert member.get("/dashboard/site/by_family.csv").status_code == 403
    assert member.get("/dashboard/nope.csv").status_code == 404


def test_a_proposal_order_is_hauled_over_the_proposals_road_km(app, factory):
    from market.allocation.models import MatchRun, Proposal
    from market.orders.requests import order_from_proposal
    from market.reports import impact

    supplier, receiver = factory.user("contractor"), factory.user("contractor")
    supply = factory.listing(supplier, "soil_offer", quantity=100)
    demand = factory.listing(receiver, "soil_want", quantity=100)

    def make(s):
        run = MatchRun(family="soil", region=["13"], status="done")
        proposal = Proposal(
            run=run,
            supply_id=supply,
            demand_id=demand,
            quantity=50,
            road_km=37.5,
            transport_cost=0,
            co2_kg=0,
            net_benefit=0,
            supply_saving=0,
            demand_saving=0,
            state="agreed",
        )
        s.add(proposal)
        s.flush()
        order = order_from_proposal(
            s,
            listing_id=supply,
            counterparty_org_id=receiver.org_id,
            quantity=50,
            proposal_ref=f"proposal:{proposal.id}",
        )
        fs = load_factors(s)
        impact.attach_order_data(s, fs, [order])
        s.commit()
        return impact.haul(fs, order)

    with app.test_request_context():
        estimate = read(app, make)
    assert (estimate.road_km, estimate.method, estimate.max_payload_kg) == (
        37.5,
        "proposal",
        10_000,
    )
    admin_member = factory.user("contractor")
    read(app, lambda s: (setattr(s.get(User, admin_member.id), "is_site_admin", True), s.commit()))
    totals = section_totals(
        signed_in(app, admin_member).get("/dashboard/site").get_data(as_text=True)
    )
    assert totals["Orders from optimisation"] == "1"


def test_huge_ids_are_not_found_rather_than_a_database_error(app, factory, soil_trade):
    *_, seller, buyer, order_id = soil_trade
    huge = 10**20
    assert seller.get(f"/orders/{huge}/impact").status_code == 404
    assert seller.post(f"/orders/{huge}/haul", data={"road_km": "5"}).status_code == 404
    town = signed_in(app, factory.user("municipality"))
    assert town.post(f"/pickups/bookings/{huge}/check-in").status_code == 404
    assert (
        town.post(f"/pickups/slots/{huge}/bookings", data={"order_id": str(huge)}).status_code
        == 404
    )
    refused = town.post("/pickups/slots", data={"listing_id": str(huge), "slot_date": "2099-01-01"})
    assert refused.status_code == 422 and "Choose one of your reuse items" in refused.get_data(
        as_text=True
    )
