"""Deals, not pairs: the optimiser's group of flows is decided whole. A blend (every lot
feeding one blended demand) and a chain through a stockyard (supplier, yard operator,
receiver) are shown to every party with its own part and the whole; orders are made only
when all have accepted, all in one transaction; any decline ends it for all; the yard's
capacity is reserved in the ledger.

The flows are given as the optimiser returns them (its own tests cover how it finds them);
these tests cover what the app does with them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from market.accounts.models import User
from market.allocation import runs
from market.allocation import services as allocation
from market.allocation.instance import listing_ref
from market.allocation.models import Deal, MatchRun, Proposal
from market.catalog.models import Listing
from market.errors import Conflict
from market.notifications.models import Notification
from market.orders.models import Order
from tests.conftest import in_session


def _flow(supply, demand, quantity, via=None):
    return {
        "supply": listing_ref(supply),
        "demand": listing_ref(demand),
        "via": listing_ref(via) if via else None,
        "quantity": quantity,
        "road_km": 20.0,
        "transport_cost": 1000.0 * quantity,
        "co2_kg": 5.0 * quantity,
        "net_benefit": 2000.0 * quantity,
    }


def _store(app, family, flows, blended=()):
    supplies = {f["supply"] for f in flows}
    demands = {f["demand"] for f in flows}
    instance = {
        "supplies": [{"id": s, "class": "x", "disposal_cost": 1500.0} for s in supplies],
        "demands": [{"id": d, "value": 1800.0, "blend": d in blended} for d in demands],
    }
    result = {"status": "optimal", "net_benefit": 1.0, "upper_bound": 1.0, "flows": flows}

    def run(s):
        match_run = MatchRun(family=family, region=["13"], status="done")
        s.add(match_run)
        s.flush()
        runs._store(s, match_run, instance, result)
        return [p.id for p in match_run.proposals]

    return in_session(app, run)


def _decide(app, member, proposal_id, accept=True):
    def run(s):
        user = s.get(User, member.id)
        return allocation.decide(s, user, s.get(Proposal, proposal_id), accept).state

    return in_session(app, run)


def _read(app, fn):
    return in_session(app, fn, commit=False)


def _committed(app, listing_id):
    return _read(app, lambda s: Decimal(s.get(Listing, listing_id).committed_quantity))


@pytest.fixture
def blend(app, factory):
    """Two lots of recycled road base from two suppliers, planned together into one
    blended demand (each alone might miss its absorption limit; the mix meets it)."""
    a, b, receiver = factory.user("recycler"), factory.user("recycler"), factory.user()
    lot_a = factory.listing(a, "recycled_offer", quantity=30, properties={"absorption": 7.01})
    lot_b = factory.listing(b, "recycled_offer", quantity=20, properties={"absorption": 6.5})
    want = factory.listing(
        receiver,
        "recycled_want",
        quantity=50,
        property_limits={"absorption": {"max": 7.0}},
        blend_allowed=True,
    )
    ids = _store(
        app,
        "recycled",
        [_flow(lot_a, want, 30), _flow(lot_b, want, 20)],
        blended={listing_ref(want)},
    )
    return (a, b, receiver), (lot_a, lot_b, want), ids


def test_a_blend_is_one_deal_every_party_sees_whole_and_it_is_accepted_whole(
    app, blend, login, client
):
    (a, b, receiver), (lot_a, lot_b, want), (part_a, part_b) = blend
    kinds = _read(
        app, lambda s: [(d.kind, len(d.proposals), len(d.parties)) for d in s.scalars(select(Deal))]
    )
    assert kinds == [("blend", 2, 3)]

    login(a)
    client.post("/lang/en", data={"next": "/"})
    page = client.get(f"/proposals/{part_a}").get_data(as_text=True)
    assert 'id="deal-parts"' in page and f"/proposals/{part_b}" in page  # the whole blend
    assert "blend" in page
    assert f'data-proposal-id="{part_b}"' in client.get("/proposals").get_data(as_text=True)

    # The lot at 7.01 cannot be accepted alone: A and the receiver accepting makes nothing.
    assert _decide(app, a, part_a) == "proposed"
    assert _decide(app, receiver, part_a) == "proposed"
    assert _read(app, lambda s: s.scalars(select(Order)).all()) == []
    assert _committed(app, lot_a) == 0

    # The last party's accept makes every order of the blend at once.
    assert _decide(app, b, part_b) == "agreed"
    made = _read(
        app, lambda s: sorted((o.listing_id, o.quantity) for o in s.scalars(select(Order)))
    )
    assert made == [(lot_a, Decimal("30")), (lot_b, Decimal("20"))]
    assert (_committed(app, lot_a), _committed(app, lot_b), _committed(app, want)) == (30, 20, 50)
    with pytest.raises(Conflict):  # and it stays one deal
        _decide(app, a, part_a)


def test_any_decline_ends_the_blend_for_every_party(app, blend):
    (a, b, receiver), _lots, (part_a, part_b) = blend
    _decide(app, a, part_a)
    assert _decide(app, b, part_b, accept=False) == "declined"
    states = _read(
        app, lambda s: [p.state for p in s.scalars(select(Proposal).order_by(Proposal.id))]
    )
    assert states == ["declined", "declined"]
    with pytest.raises(Conflict, match="declined|辞退"):
        _decide(app, receiver, part_a)
    assert _read(app, lambda s: s.scalars(select(Order)).all()) == []


def test_a_lot_taken_by_another_order_expires_the_whole_blend(app, blend, factory):
    from market.orders import requests, transitions

    (a, b, receiver), (lot_a, lot_b, want), (part_a, part_b) = blend
    other = factory.user()

    def take(s):
        order = requests.request_order(s, s.get(User, other.id), lot_a, {"quantity": "15"})
        transitions.perform(s, s.get(User, a.id), order.id, "accept")

    in_session(app, take)
    deal = _read(app, lambda s: (s.scalar(select(Deal)).state, s.scalar(select(Deal)).reason))
    assert deal[0] == "expired" and "blend" in deal[1] or "ブレンド" in deal[1]
    states = _read(app, lambda s: {p.state for p in s.scalars(select(Proposal))})
    assert states == {"expired"}


@pytest.fixture
def chain(app, factory):
    """Soil routed through a stockyard: supplier → yard → receiver."""
    supplier, operator, receiver = (
        factory.user(),
        factory.user("stockyard_operator"),
        factory.user(),
    )
    offer = factory.listing(supplier, "soil_offer", quantity=1000)
    yard = factory.listing(operator, "stockyard", quantity=800)
    want = factory.listing(receiver, "soil_want", quantity=600)
    [part] = _store(app, "soil", [_flow(offer, want, 500, via=yard)])
    return (supplier, operator, receiver), (offer, yard, want), part


def test_a_chain_through_a_yard_needs_the_yard_operator_and_reserves_its_capacity(
    app, chain, login, client
):
    (supplier, operator, receiver), (offer, yard, want), part = chain
    told = _read(
        app,
        lambda s: {
            n.user_id: n.message for n in s.scalars(select(Notification)) if f"#{part}" in n.message
        },
    )
    assert set(told) == {supplier.id, operator.id, receiver.id}  # every party, in-app
    assert "ストックヤード運営者" in told[operator.id]
    login(operator)
    client.post("/lang/en", data={"next": "/"})
    assert f'data-proposal-id="{part}"' in client.get("/proposals").get_data(as_text=True)
    page = client.get(f"/proposals/{part}").get_data(as_text=True)
    assert "stockyard operator" in page and 'id="accept"' in page

    _decide(app, supplier, part)
    assert _decide(app, receiver, part) == "proposed"  # the yard has not accepted yet
    assert _decide(app, operator, part) == "agreed"
    assert (_committed(app, offer), _committed(app, yard), _committed(app, want)) == (500, 500, 500)
    assert _read(app, lambda s: Decimal(s.get(Listing, yard).open_quantity)) == 300
    # the operator's dashboard shows the load coming through its yard
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'id="yard_loads"' in dashboard or "Loads through your stockyards" in dashboard
    assert "500.0" in dashboard


def test_the_yard_operator_declining_ends_the_chain(app, chain):
    (supplier, operator, receiver), _listings, part = chain
    _decide(app, supplier, part)
    assert _decide(app, operator, part, accept=False) == "declined"
    with pytest.raises(Conflict):
        _decide(app, receiver, part)


def test_a_proposal_stored_before_deals_is_decided_as_a_pair(app, factory):
    supplier, receiver = factory.user(), factory.user()
    offer = factory.listing(supplier, "soil_offer", quantity=1000)
    want = factory.listing(receiver, "soil_want", quantity=600)

    def old_style(s):
        run = MatchRun(family="soil", region=["13"], status="done")
        s.add(run)
        s.flush()
        proposal = Proposal(
            run=run,
            supply_id=offer,
            demand_id=want,
            quantity=Decimal(400),
            road_km=10.0,
            transport_cost=1,
            co2_kg=1.0,
            net_benefit=1,
            supply_saving=1,
            demand_saving=1,
            supply_decision="accepted",  # decided before deals existed
        )
        s.add(proposal)
        s.flush()
        return proposal.id

    part = in_session(app, old_style)
    assert _decide(app, receiver, part) == "agreed"
    made = _read(app, lambda s: [(o.listing_id, o.quantity) for o in s.scalars(select(Order))])
    assert made == [(offer, Decimal("400"))]
    assert _read(app, lambda s: s.scalar(select(Deal)).kind) == "pair"
