"""The run page says why a listing stayed unmatched with the constraint that binds, in
Japanese by default and in English (issue 12, item 10).

Before: a recycled lot above a blend demand's absorption limit and that demand, both left
unmatched, were each said to have been outbid by the other."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from market.allocation.models import MatchRun
from market.allocation.reasons import property_names, unmatched_reason
from market.catalog.models import Listing
from market.db import japan_today
from tests.conftest import in_session

ADMIN = ("admin@example.jp", "admin password!")


@pytest.fixture
def admin_client(app):
    from market.accounts.services import create_site_admin

    in_session(app, lambda s: create_site_admin(s, *ADMIN, "Admin"))
    client = app.test_client()
    client.post("/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    return client


def run_matching(app, client, **form) -> MatchRun:
    response = client.post("/matching/runs", data={"region": ["13", "14"], **form})
    assert response.status_code == 302, response.get_data(as_text=True)
    run = in_session(app, lambda s: s.scalar(select(MatchRun).order_by(MatchRun.id.desc())))
    assert run.status == "done" and run.solver_status == "optimal"
    return run


def reason_in(app, entry: dict, locale: str) -> str:
    def word(session):
        titles = dict(session.execute(select(Listing.id, Listing.title)).all())
        with force_locale(locale):
            return unmatched_reason(entry, titles, property_names(session))

    with app.test_request_context():
        return in_session(app, word, commit=False)


def test_a_lot_above_the_blend_limit_is_not_said_to_be_outbid(app, factory, admin_client):
    recycler, builder = factory.user("recycler"), factory.user()
    lot = factory.listing(
        recycler, "recycled_offer", title="再生砕石 吸水率高め", properties={"absorption": 7.01}
    )
    wanted = factory.listing(
        builder,
        "recycled_want",
        title="路盤材 募集",
        property_limits={"absorption": {"max": 7.0}},
        blend_allowed=True,
    )
    run = run_matching(app, admin_client, family="recycled", material_code="road_base")
    [supply] = run.result["unmatched_supply"]
    [demand] = run.result["unmet_demand"]
    assert supply["id"] == f"L{lot}" and demand["id"] == f"L{wanted}"
    assert supply["code"] == demand["code"] == "property_limit"

    page = admin_client.get(f"/matching/runs/{run.id}").get_data(as_text=True)
    assert "配合すると" in page and "吸水率 7.01" in page and "7 以下" in page
    assert "より良い組合せ" not in page  # nobody was outbid
    assert reason_in(app, supply, "en") == (
        "Blending with 路盤材 募集 would break the average limit "
        "(Water absorption 7.01, limit at most 7)."
    )
    assert reason_in(app, demand, "ja") == (
        "再生砕石 吸水率高め と配合すると平均値の上限・下限を外れます（吸水率 7.01、基準 7 以下）。"
    )


def test_partner_only_and_property_reasons_are_worded(app, factory, admin_client):
    from market.accounts.models import User
    from market.accounts.services import add_partner

    city, operator = factory.user("municipality"), factory.user("reuse_operator")
    partner = factory.user("reuse_operator")
    in_session(
        app,
        lambda s: add_partner(s, s.get(User, city.id), partner.org_id),
    )
    until = (japan_today() + dt.timedelta(days=3)).isoformat()
    factory.listing(city, "reuse_item", title="会議椅子", partner_only_until=until)
    factory.listing(partner, "reuse_want", category_prices={"table": 800})  # no chairs
    factory.listing(operator, "reuse_want", category_prices={"chair": 900})
    run = run_matching(app, admin_client, family="reuse")
    [supply] = run.result["unmatched_supply"]
    assert supply["code"] == "partner_only"
    assert reason_in(app, supply, "en") == (
        "The compatible counterparts are not partners of the municipality during the "
        "item's partner-only period."
    )
    assert "提携" in reason_in(app, supply, "ja")

    entry = {
        "code": "property_limit",
        "candidate": "L999999",
        "property": "absorption",
        "value": 7.5,
        "limit": "max",
        "limit_value": 7.0,
        "blend": False,
    }
    assert reason_in(app, entry, "en") == (
        "No counterpart's property limits are met (Water absorption 7.5 at L999999, "
        "limit at most 7)."
    )
    assert reason_in(app, {**entry, "value": None}, "ja").startswith("品質値の基準を満たす相手")
