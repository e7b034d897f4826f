"""Matching runs from open listings, proposals to both parties, accept and decline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

import matching
from market.allocation.models import DeclinedPair, MatchRun, Proposal
from market.allocation.reasons import unmatched_reason
from market.catalog.models import Listing
from market.db import japan_today


@pytest.fixture
def admin(app, db):
    from market.accounts.services import create_site_admin

    with app.test_request_context():
        create_site_admin(db, "admin@example.jp", "admin password!", "Admin")
        db.commit()
    return "admin@example.jp"


@pytest.fixture
def soil_market(factory):
    """A supplier of 第2b種 soil in Koto and a receiver in Kawasaki that accepts it."""
    supplier, receiver = factory.user(), factory.user()
    offer = factory.listing(supplier, "soil_offer", quantity=1000, lat=35.6727, lon=139.8171)
    want = factory.listing(
        receiver,
        "soil_want",
        quantity=600,
        lat=35.5308,
        lon=139.7029,
        prefecture_code="14",
        accepted_classes=["1", "2a", "2b"],
    )
    far = factory.listing(
        receiver,
        "soil_want",
        quantity=500,
        lat=36.5551,
        lon=139.8828,
        prefecture_code="09",
        max_haul_km=30,
    )
    return supplier, receiver, offer, want, far


def start(client, admin, **form):
    client.post("/login", data={"email": admin, "password": "admin password!"})
    data = {"family": "soil", "region": ["09", "13", "14"], **form}
    response = client.post("/matching/runs", data=data)
    client.post("/logout")
    return response


def test_run_builds_instance_solves_and_proposes(client, admin, soil_market, db):
    supplier, receiver, offer, want, far = soil_market
    response = start(client, admin)
    assert response.status_code == 302
    run = db.scalar(select(MatchRun))
    assert run.status == "done" and run.solver_status == "optimal"
    # The stored instance and result satisfy an independent check.
    report = matching.check(run.instance, run.result)
    assert report.ok, report
    proposals = db.scalars(select(Proposal)).all()
    assert [(p.supply_id, p.demand_id, p.quantity) for p in proposals] == [
        (offer, want, Decimal("600"))
    ]
    assert run.net_benefit == pytest.approx(run.upper_bound)
    unmatched = {u["id"]: u for u in run.result["unmet_demand"]}
    assert "haul" in unmatched[f"L{far}"]["reason"]


def test_run_page_explains_in_the_users_language(app, client, admin, soil_market, db):
    """Stages and unmatched reasons come from the result's codes and figures, in Japanese
    by default (and in English when chosen); listings are named by title, not id."""
    supplier, receiver, offer, want, far = soil_market
    start(client, admin)
    run = db.scalar(select(MatchRun))
    far_title = db.get(Listing, far).title
    client.post("/login", data={"email": admin, "password": "admin password!"})
    page = client.get(f"/matching/runs/{run.id}").get_data(as_text=True)
    assert "未充足の需要" in page and far_title in page
    assert "運搬距離の上限内に条件の合う相手がいません" in page and "limit 30 km" not in page
    assert client.get(f"/matching/runs/{run.id}/progress.json").get_json()["stage"] == "完了"
    entry = next(u for u in run.result["unmet_demand"] if u["id"] == f"L{far}")
    with app.test_request_context(), force_locale("en"):
        assert unmatched_reason(entry, {}) == (
            f"No compatible counterpart within haul distance (nearest L{offer} at "
            f"{entry['nearest_km']:.1f} km, limit 30 km)."
        )


def test_runs_are_for_site_admins_only(client, factory, login):
    member = factory.user()
    login(member)
    assert client.get("/matching/runs").status_code == 403
    assert client.post("/matching/runs", data={"family": "soil"}).status_code == 403


def test_bad_run_input_names_the_field(client, admin, db):
    client.post("/login", data={"email": admin, "password": "admin password!"})
    response = client.post("/matching/runs", data={"family": "plutonium"})
    assert response.status_code == 400 and 'id="family-error"' in response.get_data(as_text=True)
    response = client.post("/matching/runs", data={"family": "recycled"})
    assert response.status_code == 400 and 'id="material_code-error"' in response.get_data(
        as_text=True
    )
    response = client.post("/matching/runs", data={"family": "soil", "region": ["99"]})
    assert response.status_code == 400 and 'id="region-error"' in response.get_data(as_text=True)
    assert db.scalar(select(MatchRun)) is None


def test_run_files_download_in_the_shared_format(client, admin, soil_market, db):
    start(client, admin)
    run = db.scalar(select(MatchRun))
    client.post("/login", data={"email": admin, "password": "admin password!"})
    instance = client.get(f"/matching/runs/{run.id}/instance.json")
    result = client.get(f"/matching/runs/{run.id}/result.json")
    assert instance.status_code == result.status_code == 200
    assert "attachment" in instance.headers["Content-Disposition"]
    assert matching.check(instance.get_json(), result.get_json()).ok
    progress = client.get(f"/matching/runs/{run.id}/progress.json").get_json()
    assert progress["status"] == "done" and progress["progress"] == 1.0


def test_both_parties_accept_and_quantities_are_reserved(client, admin, soil_market, login, db):
    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)
    proposal = db.scalar(select(Proposal))
    login(supplier)
    page = client.get("/proposals").get_data(as_text=True)
    assert f'data-proposal-id="{proposal.id}"' in page
    detail = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "data-line=" in detail and "km" in detail
    client.post(f"/proposals/{proposal.id}/accept")
    db.expire_all()
    assert db.get(Proposal, proposal.id).state == "proposed"
    client.post("/logout")
    login(receiver)
    client.post(f"/proposals/{proposal.id}/accept")
    db.expire_all()
    assert db.get(Proposal, proposal.id).state == "agreed"
    assert db.get(Listing, offer).open_quantity == Decimal("400")
    assert db.get(Listing, want).open_quantity == Decimal("0")
    assert db.get(Listing, want).status.value == "reserved"
    # The agreed deal is an accepted order between the two organisations.
    from market.orders.models import Order

    order = db.scalar(select(Order))
    assert order.source == "proposal" and order.status.value == "accepted"
    assert (order.listing_id, order.quantity) == (offer, Decimal("600"))
    assert order.buyer_org_id == receiver.org_id and order.seller_org_id == supplier.org_id
    # Deciding again changes nothing, and the page says what happened instead of an error.
    again = client.post(f"/proposals/{proposal.id}/decline")
    assert again.status_code == 302  # back to the proposal, which says what happened
    assert "取引は成立しています" in client.get(again.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert db.get(Proposal, proposal.id).state == "agreed"
    assert len(db.scalars(select(Order)).all()) == 1


def test_decline_excludes_the_pair_from_the_next_run(client, admin, soil_market, login, db):
    supplier, _receiver, offer, want, _far = soil_market
    start(client, admin)
    proposal = db.scalar(select(Proposal))
    login(supplier)
    client.post(f"/proposals/{proposal.id}/decline")
    client.post("/logout")
    assert db.scalar(select(DeclinedPair)).demand_id == want
    start(client, admin)
    second = db.scalars(select(MatchRun).order_by(MatchRun.id)).all()[-1]
    assert second.instance["excluded_pairs"] == [[f"L{offer}", f"L{want}"]]
    assert not [p for p in second.proposals if (p.supply_id, p.demand_id) == (offer, want)]


def test_an_organisation_is_never_matched_with_itself(client, admin, factory, db):
    contractor = factory.user()
    offer = factory.listing(contractor, "soil_offer", quantity=500, lat=35.6727, lon=139.8171)
    own_want = factory.listing(contractor, "soil_want", quantity=500, lat=35.68, lon=139.82)
    start(client, admin)
    run = db.scalar(select(MatchRun))
    assert run.status == "done"
    assert [f"L{offer}", f"L{own_want}"] in run.instance["excluded_pairs"]
    assert run.proposals == []


def test_other_organisations_cannot_see_or_decide_proposals(
    client, admin, soil_market, factory, login, db
):
    start(client, admin)
    proposal = db.scalar(select(Proposal))
    outsider = factory.user()
    login(outsider)
    assert client.get(f"/proposals/{proposal.id}").status_code == 404
    assert client.post(f"/proposals/{proposal.id}/accept").status_code == 404
    db.expire_all()
    assert db.get(Proposal, proposal.id).supply_decision == "pending"


def test_nothing_matchable_gives_an_empty_optimal_run(client, admin, factory, db):
    member = factory.user()
    today = japan_today()
    factory.listing(
        member,
        "soil_offer",
        window_start=today.isoformat(),
        window_end=(today + dt.timedelta(days=5)).isoformat(),
    )
    start(client, admin)
    run = db.scalar(select(MatchRun))
    assert run.status == "done" and run.solver_status == "optimal" and run.proposals == []
