"""A run whose listings fall apart into regions no haul can join is solved as one job per
region on the job queue (here the embedded, inline one), merged into one result, and the
run page shows every region's progress."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

import matching
from market.allocation.models import MatchRun, Proposal
from market.allocation.runs import region_jobs


@pytest.fixture
def admin(app, db):
    from market.accounts.services import create_site_admin

    with app.test_request_context():
        create_site_admin(db, "admin@example.jp", "admin password!", "Admin")
        db.commit()
    return "admin@example.jp"


@pytest.fixture
def two_areas(factory):
    """Tokyo Bay (Koto → Kawasaki) and Utsunomiya, ~100 km apart: no 40 km haul and no
    haul that pays for itself joins them."""
    supplier, receiver = factory.user(), factory.user()
    koto = factory.listing(supplier, "soil_offer", quantity=1000, lat=35.6727, lon=139.8171)
    kawasaki = factory.listing(
        receiver,
        "soil_want",
        quantity=600,
        lat=35.5308,
        lon=139.7029,
        prefecture_code="14",
        accepted_classes=["1", "2a", "2b"],
        max_haul_km=40,
    )
    tochigi = factory.listing(
        supplier, "soil_offer", quantity=300, lat=36.5700, lon=139.8600, prefecture_code="09"
    )
    utsunomiya = factory.listing(
        receiver,
        "soil_want",
        quantity=800,
        lat=36.5551,
        lon=139.8828,
        prefecture_code="09",
        accepted_classes=["1", "2a", "2b"],
        max_haul_km=40,
    )
    return koto, kawasaki, tochigi, utsunomiya


def _start(client, admin):
    client.post("/login", data={"email": admin, "password": "admin password!"})
    response = client.post("/matching/runs", data={"family": "soil", "region": ["09", "13", "14"]})
    assert response.status_code == 302
    return response


def test_regions_run_as_jobs_and_merge_into_one_run(client, admin, two_areas, db):
    koto, kawasaki, tochigi, utsunomiya = two_areas
    _start(client, admin)
    run = db.scalar(select(MatchRun))
    assert run.status == "done" and run.solver_status == "optimal"
    jobs = region_jobs(db, run.id)
    assert [j.kind for j in jobs] == ["matching_region", "matching_region"]
    assert all(j.status == "done" for j in jobs)
    # Each region job solved its own listings only.
    assert sorted(len(j.params["supplies"]) + len(j.params["demands"]) for j in jobs) == [2, 2]
    pairs = {(p.supply_id, p.demand_id, p.quantity) for p in db.scalars(select(Proposal))}
    assert pairs == {(koto, kawasaki, Decimal("600")), (tochigi, utsunomiya, Decimal("300"))}
    # The merged result is the whole instance's optimum and passes the independent check.
    whole = matching.solve(matching.load_instance(run.instance))
    assert run.net_benefit == pytest.approx(whole.net_benefit)
    assert run.upper_bound == pytest.approx(run.net_benefit)
    report = matching.check(run.instance, run.result)
    assert report.ok, report
    assert run.result["stats"]["regions"] == 2


def test_run_page_shows_each_region(client, admin, two_areas, db):
    _start(client, admin)
    run = db.scalar(select(MatchRun))
    page = client.get(f"/matching/runs/{run.id}").get_data(as_text=True)
    assert 'id="run-regions"' in page and 'id="region-1"' in page and 'id="region-2"' in page
    state = client.get(f"/matching/runs/{run.id}/progress.json").get_json()
    assert state["status"] == "done" and state["progress"] == 1.0
    assert [
        (r["region"], r["supplies"], r["demands"], r["progress"]) for r in state["regions"]
    ] == [
        (1, 1, 1, 1.0),
        (2, 1, 1, 1.0),
    ]


def test_a_run_in_one_piece_has_no_region_jobs(client, admin, factory, db):
    supplier, receiver = factory.user(), factory.user()
    factory.listing(supplier, "soil_offer", quantity=1000, lat=35.6727, lon=139.8171)
    factory.listing(
        receiver,
        "soil_want",
        quantity=600,
        lat=35.5308,
        lon=139.7029,
        prefecture_code="14",
        accepted_classes=["1", "2a", "2b"],
    )
    _start(client, admin)
    run = db.scalar(select(MatchRun))
    assert run.status == "done" and region_jobs(db, run.id) == []
    state = client.get(f"/matching/runs/{run.id}/progress.json").get_json()
    assert state["regions"] == [] and state["progress"] == 1.0
