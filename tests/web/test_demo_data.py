"""The demo data tells one story: organisations work where they are based, a municipality
lists items of its own town, nobody trades with itself, and a municipality's dashboard
shows a year of pickups."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from market.accounts.models import Organisation, OrgKind
from market.catalog.models import Listing, ListingKind
from market.demo import CITY, ORGS, PLANT_OPERATOR, load_demo
from market.orders.models import Delivery, Order


@pytest.fixture
def demo(app, db):
    with app.test_request_context():
        load_demo(db, target=120)
        db.commit()
    return db


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * 111, (a[1] - b[1]) * 91)


def test_organisations_list_where_they_work(demo):
    homes = {name: CITY[city] for _kind, name, city in [*ORGS, PLANT_OPERATOR]}
    for org in demo.scalars(select(Organisation)):
        home = homes[org.name]
        assert org.address == home[0] and org.municipality_code == home[1]
        for listing in demo.scalars(select(Listing).where(Listing.organisation_id == org.id)):
            assert km((listing.lat, listing.lon), (home[3], home[4])) < 55, (
                org.name,
                listing.title,
            )
            if listing.kind == ListingKind.reuse_item:  # a town lists its own town's items
                assert listing.address == home[0] and f"（{home[0]}）" in listing.title


def test_nobody_trades_with_itself(demo):
    orders = demo.scalars(select(Order)).all()
    assert orders and all(o.buyer_org_id != o.seller_org_id for o in orders)


def test_each_municipality_has_a_year_of_pickups(demo):
    for city in demo.scalars(select(Organisation).where(Organisation.kind == OrgKind.municipality)):
        months = {
            d.delivered_on.strftime("%Y-%m")
            for d in demo.scalars(
                select(Delivery).join(Order).where(Order.seller_org_id == city.id)
            )
        }
        assert len(months) >= 11, (city.name, sorted(months))
