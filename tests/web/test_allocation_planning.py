"""Planning over time, app side: the run input as a version 2 instance (weekly rates,
horizon, carbon price), solved and checked by the engine. Not yet offered in the UI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import matching
from market.allocation.instance import build_instance
from market.catalog.models import Listing
from market.db import japan_today

REGION = ["13", "14"]


def market(factory, db, offer_rate, want_rate):
    supplier, receiver = factory.user(), factory.user()
    offer = factory.listing(supplier, "soil_offer", quantity=1000, lat=35.6727, lon=139.8171)
    want = factory.listing(
        receiver, "soil_want", quantity=900, lat=35.5308, lon=139.7029, prefecture_code="14"
    )
    db.get(Listing, offer).weekly_rate = offer_rate
    db.get(Listing, want).weekly_rate = want_rate
    db.commit()
    return offer, want


def test_a_planned_run_is_a_version_2_instance_with_weekly_rates(factory, db):
    offer, want = market(factory, db, Decimal("150"), Decimal("60"))
    today = japan_today()
    data = build_instance(db, "soil", REGION, today, horizon_weeks=26, carbon_price_per_kg=3.0)
    assert data["version"] == 2 and data["carbon_price_per_kg"] == 3.0
    start = dt.date.fromisoformat(data["horizon"]["start"])
    assert start.weekday() == 0 and 0 <= (today - start).days < 7
    assert data["horizon"]["periods"] == 26
    rates = {r["id"]: r.get("max_per_period") for r in data["supplies"] + data["demands"]}
    assert rates == {f"L{offer}": 150.0, f"L{want}": 60.0}

    res = matching.solve(matching.load_instance(data)).to_dict()
    assert res["status"] == "optimal"
    assert matching.check(data, res).ok
    # The receiver's 60 m³ a week binds: no week gets more, and the two-month window
    # caps the total below both quantities.
    weekly: dict[int, float] = {}
    for f in res["flows"]:
        weekly[f["deliver_period"]] = weekly.get(f["deliver_period"], 0.0) + f["quantity"]
    assert weekly and max(weekly.values()) <= 60 + 1e-6
    assert sum(weekly.values()) <= 60 * len(weekly) + 1e-6 < 900


def test_an_unplanned_run_stays_version_1_and_the_run_price_overrides(factory, db):
    market(factory, db, None, None)
    today = japan_today()
    data = build_instance(db, "soil", REGION, today, carbon_price_per_kg=5.0)
    assert data["version"] == 1 and "horizon" not in data
    assert data["carbon_price_per_kg"] == 5.0
    planned = build_instance(db, "soil", REGION, today, horizon_weeks=4)
    assert all("max_per_period" not in r for r in planned["supplies"] + planned["demands"])
    assert matching.check(planned, matching.solve(matching.load_instance(planned)).to_dict()).ok
