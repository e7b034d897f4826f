"""Planning over time in the app (issue 14): a plant operator publishes a plant and its
treatment lines through the forms; an administrator starts a run over 26 weeks with a
carbon price; the plan sends class-4a soil through the plant and a stockyard (the sites'
periods do not meet); every party — supplier, plant operator, yard operator, receiver —
accepts its part, in Japanese or English; the plant's week is booked; the proposal shows
the timeline and the plant and yard pages their weeks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

import matching
from market.allocation.models import Deal, MatchRun, Plant, PlantLoad, Proposal
from market.catalog.models import Listing
from market.db import japan_today
from market.orders.models import Order
from tests.conftest import in_session

SUPPLY_AT = (35.6727, 139.8171)  # 江東区
PLANT_AT = (35.6300, 139.7800)  # 品川区 臨海部
YARD_AT = (35.5800, 139.7500)  # 大田区
DEMAND_AT = (35.5308, 139.7029)  # 川崎市


def _read(app, fn):
    return in_session(app, fn, commit=False)


def plant_form(**over) -> dict:
    return {
        "name": "城南改良センター",
        "lat": str(PLANT_AT[0]),
        "lon": str(PLANT_AT[1]),
        "prefecture_code": "13",
        "address": "品川区八潮",
        "window_start": "",
        "window_end": "",
        **over,
    }


def line_form(**over) -> dict:
    return {
        "from_class": "4a",
        "to_class": "2i",
        "price_per_m3": "1500",
        "weekly_capacity": "200",
        **over,
    }


@pytest.fixture
def plant_operator(factory):
    return factory.user("plant_operator")


def publish_plant(client, login, operator) -> int:
    login(operator)
    response = client.post("/plants", data=plant_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    plant_id = int(response.headers["Location"].rsplit("/", 1)[1])
    response = client.post(f"/plants/{plant_id}/lines", data=line_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    client.post("/logout")
    return plant_id


def test_bad_plant_and_line_input_is_named_by_field_in_japanese_and_nothing_is_saved(
    app, client, login, plant_operator
):
    login(plant_operator)
    response = client.post(
        "/plants", data=plant_form(name=" ", lat="北緯35度", prefecture_code="99")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="name-error"' in page and "この項目は必須です" in page
    assert 'id="lat-error"' in page and "数値で入力してください" in page
    assert 'id="prefecture_code-error"' in page
    assert _read(app, lambda s: s.scalars(select(Plant)).all()) == []

    plant_id = int(client.post("/plants", data=plant_form()).headers["Location"].rsplit("/", 1)[1])
    response = client.post(
        f"/plants/{plant_id}/lines",
        data=line_form(to_class="mud-a", weekly_capacity="0", price_per_m3="12.5"),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="to_class-error"' in page and "搬入される土より良い区分" in page
    assert 'id="weekly_capacity-error"' in page
    assert 'id="price_per_m3-error"' in page and "円単位" in page
    assert _read(app, lambda s: s.get(Plant, plant_id).conversions) == []


def test_only_plant_operators_publish_plants(client, login, factory):
    login(factory.user("contractor"))
    assert client.post("/plants", data=plant_form()).status_code == 403


@pytest.fixture
def planned_market(app, factory, plant_operator, client, login):
    """Class-4a soil leaving in the next three weeks, a road embankment taking improved
    soil from week 8, a yard between them, a plant that makes 4a into 第2種改良土."""
    today = japan_today()
    supplier, receiver = factory.user(), factory.user()
    yard_operator = factory.user("stockyard_operator")
    offer = factory.listing(
        supplier,
        "soil_offer",
        quantity=300,
        soil_class_code="4a",
        cone_index=250,
        lat=SUPPLY_AT[0],
        lon=SUPPLY_AT[1],
        window_end=(today + dt.timedelta(days=20)).isoformat(),
    )
    want = factory.listing(
        receiver,
        "soil_want",
        quantity=300,
        accepted_classes=["1", "2a", "2b", "2i"],
        lat=DEMAND_AT[0],
        lon=DEMAND_AT[1],
        prefecture_code="14",
        window_start=(today + dt.timedelta(days=56)).isoformat(),
        window_end=(today + dt.timedelta(days=90)).isoformat(),
    )
    yard = factory.listing(
        yard_operator,
        "stockyard",
        lat=YARD_AT[0],
        lon=YARD_AT[1],
        accepted_classes=["2a", "2b", "2i", "3a"],
        window_end=(today + dt.timedelta(days=150)).isoformat(),
    )

    def terms(s):
        s.get(Listing, offer).weekly_rate = Decimal("150")
        s.get(Listing, yard).holding_price_per_week = 20

    in_session(app, terms)
    plant_id = publish_plant(client, login, plant_operator)
    admin = factory.member(None, "ops@example.jp", is_site_admin=True)
    return {
        "supplier": supplier,
        "receiver": receiver,
        "yard_operator": yard_operator,
        "plant_operator": plant_operator,
        "admin": admin,
        "offer": offer,
        "want": want,
        "yard": yard,
        "plant": plant_id,
    }


def start_planned_run(client, login, admin, weeks="26", carbon="3") -> MatchRun:
    login(admin)
    response = client.post(
        "/matching/runs",
        data={
            "family": "soil",
            "region": ["13", "14"],
            "horizon_weeks": weeks,
            "carbon_price_per_kg": carbon,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    client.post("/logout")
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_run_form_names_a_bad_horizon_and_carbon_price(client, login, factory):
    admin = factory.member(None, "ops@example.jp", is_site_admin=True)
    login(admin)
    page = client.get("/matching/runs").get_data(as_text=True)
    assert 'name="horizon_weeks"' in page and 'value="26"' in page
    response = client.post(
        "/matching/runs",
        data={
            "family": "soil",
            "region": ["13"],
            "horizon_weeks": "半年",
            "carbon_price_per_kg": "x",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="horizon_weeks-error"' in page and "整数" in page
    assert 'id="carbon_price_per_kg-error"' in page
    response = client.post(
        "/matching/runs", data={"family": "soil", "region": ["13"], "horizon_weeks": "500"}
    )
    assert response.status_code == 400 and 'id="horizon_weeks-error"' in response.get_data(
        as_text=True
    )


def test_a_planned_deal_through_a_plant_and_a_yard_is_accepted_by_every_party(
    app, client, login, planned_market
):
    m = planned_market
    run_id = start_planned_run(client, login, m["admin"])
    run = _read(app, lambda s: s.get(MatchRun, run_id))
    assert run.status == "done", run.error
    assert run.instance["version"] == 2 and run.instance["carbon_price_per_kg"] == 3.0
    assert run.instance["horizon"]["periods"] == 26
    assert [p["converts"] for p in run.instance["plants"]] == [{"4a": "2i"}]
    assert matching.check(run.instance, run.result).ok
    proposals = _read(app, lambda s: s.scalars(select(Proposal)).all())
    assert proposals, run.result
    p = proposals[0]
    # The soil leaves in its own weeks, is treated, waits in the yard, arrives in the
    # receiver's weeks: no direct match was possible.
    assert p.conversion_id is not None and p.via_id == m["yard"] and p.flow_class == "2i"
    assert p.deliver_week - p.ship_week >= dt.timedelta(weeks=5)
    assert p.ship_week.weekday() == 0 and p.treatment_cost == round(1500 * float(p.quantity))
    deal = _read(app, lambda s: s.get(Deal, p.deal_id))
    assert deal.kind == "treated"
    roles = _read(
        app, lambda s: {x.organisation_id: x.roles for x in s.get(Deal, p.deal_id).parties}
    )
    assert roles == {
        m["supplier"].org_id: "supplier",
        m["receiver"].org_id: "receiver",
        m["yard_operator"].org_id: "yard",
        m["plant_operator"].org_id: "plant",
    }

    login(m["admin"])
    page = client.get(f"/matching/runs/{run_id}").get_data(as_text=True)
    assert 'id="run-horizon"' in page and "26週" in page
    client.post("/logout")

    # The plant operator reads the proposal in English, with the timeline.
    login(m["plant_operator"])
    client.post("/lang/en", data={"next": "/"})
    page = client.get(f"/proposals/{p.id}").get_data(as_text=True)
    assert "Your part: improvement plant operator" in page or "Your part: plant operator" in page
    assert 'id="timeline"' in page
    assert p.ship_week.isoformat() in page and p.deliver_week.isoformat() in page
    assert "Improvement plant" in page
    response = client.post(f"/proposals/{p.id}/accept")
    assert response.status_code == 302
    assert "Waiting for the other parties" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    client.post("/logout")

    # The others in Japanese; the last accept makes the orders and books the plant.
    for who in ("yard_operator", "supplier", "receiver"):
        login(m[who])
        client.post("/lang/ja", data={"next": "/"})
        page = client.get(f"/proposals/{p.id}").get_data(as_text=True)
        assert "改良プラント" in page and 'id="timeline"' in page
        assert client.post(f"/proposals/{p.id}/accept").status_code == 302
        client.post("/logout")
    assert _read(app, lambda s: s.get(Deal, p.deal_id).state) == "agreed"
    booked = _read(
        app,
        lambda s: [(x.week, x.reserved) for x in s.scalars(select(PlantLoad))],
    )
    assert booked == [(p.ship_week, p.quantity)]
    orders = _read(
        app,
        lambda s: [
            o.id for o in s.scalars(select(Order).where(Order.proposal_ref == f"proposal:{p.id}"))
        ],
    )
    assert len(orders) == 1

    # The plant's page shows its load that week; the yard's page its planned occupancy.
    login(m["receiver"])
    page = client.get(f"/plants/{m['plant']}").get_data(as_text=True)
    assert '<svg class="chart"' in page and p.ship_week.isoformat() in page
    page = client.get(f"/listings/{m['yard']}").get_data(as_text=True)
    assert 'id="yard-plan"' in page and '<svg class="chart"' in page

    # The receiver cancels the order: the plant's week is given back.
    response = client.post(f"/orders/{orders[0]}/actions/cancel")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _read(app, lambda s: s.get(Order, orders[0]).status.value) == "cancelled"
    assert _read(app, lambda s: s.scalar(select(PlantLoad.reserved))) == Decimal(0)


def _accept_everything(app, members) -> list[int]:
    """Every party of every open deal accepts; returns the agreed proposals' ids."""
    from market.accounts.models import User
    from market.allocation import services as allocation

    def run(s):
        for deal in s.scalars(select(Deal).where(Deal.state == "proposed")).all():
            for party in list(deal.parties):
                user = next(s.get(User, m.id) for m in members if m.org_id == party.organisation_id)
                allocation.decide(s, user, deal.proposals[0], accept=True)
        return [p.id for p in s.scalars(select(Proposal).where(Proposal.state == "agreed"))]

    return in_session(app, run)


def test_a_rerun_after_a_schedule_slip_keeps_every_agreement_and_plans_the_rest(
    app, client, login, factory, planned_market
):
    from market.accounts.models import User
    from market.catalog import services as catalog

    m = planned_market
    members = [m[k] for k in ("supplier", "receiver", "yard_operator", "plant_operator")]
    start_planned_run(client, login, m["admin"])
    agreed = _accept_everything(app, members)
    assert agreed
    kept = _read(
        app,
        lambda s: sorted(
            (p.ship_week, p.deliver_week, p.conversion_id, p.via_id, p.quantity)
            for p in s.scalars(select(Proposal).where(Proposal.id.in_(agreed)))
        ),
    )

    # The receiving site starts three weeks late; a new lot of class-2b soil appears.
    def slip(s):
        listing = s.get(Listing, m["want"])
        owner = s.get(User, m["receiver"].id)
        catalog.update_listing(
            s,
            owner,
            listing,
            {
                "window_start": listing.window_start + dt.timedelta(weeks=3),
                "window_end": listing.window_end + dt.timedelta(weeks=3),
                "quantity": listing.quantity + 100,
            },
        )

    in_session(app, slip)
    other = factory.user()
    factory.listing(
        other,
        "soil_offer",
        quantity=100,
        soil_class_code="2b",
        lat=SUPPLY_AT[0],
        lon=SUPPLY_AT[1],
        window_end=(japan_today() + dt.timedelta(days=150)).isoformat(),
    )

    rerun_id = start_planned_run(client, login, m["admin"])
    rerun = _read(app, lambda s: s.get(MatchRun, rerun_id))
    assert rerun.status == "done", rerun.error
    start = dt.date.fromisoformat(rerun.instance["horizon"]["start"])
    committed = sorted(
        (
            start + dt.timedelta(weeks=c["ship_period"]),
            start + dt.timedelta(weeks=c["deliver_period"]),
            int(c["plant"][1:]) if c["plant"] else None,
            int(c["yard"][1:]) if c["yard"] else None,
            Decimal(str(c["quantity"])),
        )
        for c in rerun.instance["committed"]
    )
    assert committed == kept
    report = matching.check(rerun.instance, rerun.result)
    assert report.ok, report
    # Every agreement is in the new plan, on its path and weeks, in full.
    for ship, deliver, plant, yard, q in kept:
        on_path = sum(
            f["quantity"]
            for f in rerun.result["flows"]
            if f["ship_week"] == ship.isoformat()
            and f["deliver_week"] == deliver.isoformat()
            and f["plant"] == (f"C{plant}" if plant else None)
            and f["yard"] == (f"L{yard}" if yard else None)
        )
        assert on_path >= float(q) - 1e-6
    # ...and the rest is planned again: the new lot goes to the slipped site.
    # Agreed flows are not proposed again: only what is new.
    new = _read(
        app,
        lambda s: [
            (p.demand_id, p.supply.soil_class_code, p.state)
            for p in s.scalars(select(Proposal).where(Proposal.run_id == rerun_id))
        ],
    )
    assert new and set(new) == {(m["want"], "2b", "proposed")}


def test_listing_forms_ask_for_a_weekly_rate_and_a_yards_holding_price(app, client, factory, login):
    from market.catalog.models import ListingKind
    from tests.conftest import listing_data
    from tests.web.test_catalog import form_from

    login(factory.user())
    page = client.get("/listings/new/soil_offer").get_data(as_text=True)
    assert 'name="weekly_rate"' in page and "m³/週" in page
    for rate, message in (("2000", "数量を超えることはできません"), ("毎週", "")):
        data = {**form_from(listing_data()), "weekly_rate": rate}
        response = client.post("/listings/new/soil_offer", data=data)
        assert response.status_code in (400, 422)
        page = response.get_data(as_text=True)
        assert 'id="weekly_rate-error"' in page and message in page
    data = {**form_from(listing_data()), "weekly_rate": "150"}
    response = client.post("/listings/new/soil_offer", data=data)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "週あたりの量（m³/週）" in page and "150" in page
    client.post("/logout")

    login(factory.user("stockyard_operator"))
    data = {**form_from(listing_data("stockyard"))}
    data["holding_price_per_week"] = "-5"
    page = client.post("/listings/new/stockyard", data=data).get_data(as_text=True)
    assert 'id="holding_price_per_week-error"' in page
    data["holding_price_per_week"] = "25"
    response = client.post("/listings/new/stockyard", data=data)
    assert response.status_code == 302
    yard = _read(
        app,
        lambda s: s.scalars(select(Listing).where(Listing.kind == ListingKind.stockyard)).one(),
    )
    assert yard.holding_price_per_week == 25


def test_a_full_plant_week_expires_the_deal_with_the_reason_and_tells_the_plant_operator(
    app, client, login, planned_market
):
    from market.allocation import plants
    from market.notifications.models import Notification

    m = planned_market
    start_planned_run(client, login, m["admin"])
    p = _read(app, lambda s: s.scalars(select(Proposal).order_by(Proposal.id)).first())
    # Another agreement took the whole week at the plant meanwhile.
    in_session(app, lambda s: plants.reserve(s, p.conversion_id, p.ship_week, Decimal(200)))
    members = [m[k] for k in ("supplier", "receiver", "yard_operator", "plant_operator")]
    _accept_everything(app, members)
    deal = _read(app, lambda s: s.get(Deal, p.deal_id))
    assert deal.state == "expired" and "城南改良センター" in deal.reason
    assert p.ship_week.isoformat() in deal.reason
    assert _read(app, lambda s: s.scalar(select(PlantLoad.reserved))) == Decimal(200)
    told = _read(
        app,
        lambda s: [
            n.message
            for n in s.scalars(select(Notification))
            if n.user_id == m["plant_operator"].id and "期限切れ" in n.message
        ],
    )
    assert told


def test_a_line_in_play_stays_and_another_operator_cannot_touch_the_plant(
    app, client, login, factory, planned_market
):
    m = planned_market
    start_planned_run(client, login, m["admin"])
    line = _read(app, lambda s: s.get(Plant, m["plant"]).conversions[0].id)
    login(factory.user("plant_operator"))
    assert client.post(f"/plants/{m['plant']}", data=plant_form(name="乗っ取り")).status_code == 404
    assert client.post(f"/plants/{m['plant']}/lines/{line}/delete").status_code == 404
    client.post("/logout")
    login(m["plant_operator"])
    response = client.post(f"/plants/{m['plant']}/lines/{line}/delete")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "削除できません" in page
    assert _read(app, lambda s: len(s.get(Plant, m["plant"]).conversions)) == 1
    # A line no deal goes through is removed.
    client.post(f"/plants/{m['plant']}/lines", data=line_form(from_class="4b", to_class="3i"))
    assert _read(app, lambda s: len(s.get(Plant, m["plant"]).conversions)) == 2
    spare = _read(app, lambda s: s.get(Plant, m["plant"]).conversions[1].id)
    client.post(f"/plants/{m['plant']}/lines/{spare}/delete")
    assert _read(app, lambda s: [c.id for c in s.get(Plant, m["plant"]).conversions]) == [line]


def test_a_changed_treatment_line_expires_the_open_deals_through_it(
    app, client, login, planned_market
):
    m = planned_market
    start_planned_run(client, login, m["admin"])
    line = _read(app, lambda s: s.get(Plant, m["plant"]).conversions[0].id)
    login(m["plant_operator"])
    response = client.post(
        f"/plants/{m['plant']}/lines/{line}", data=line_form(price_per_m3="2400")
    )
    assert response.status_code == 302
    deals = _read(app, lambda s: [(d.state, d.reason) for d in s.scalars(select(Deal))])
    assert deals and all(state == "expired" and "城南改良センター" in why for state, why in deals)
    # Saving the same terms again changes nothing for a new run's deals.
    client.post("/logout")
    start_planned_run(client, login, m["admin"])
    login(m["plant_operator"])
    client.post(f"/plants/{m['plant']}/lines/{line}", data=line_form(price_per_m3="2400"))
    assert _read(
        app, lambda s: {d.state for d in s.scalars(select(Deal)) if d.state != "expired"}
    ) == {"proposed"}
