"""An administrator runs the optimiser; both parties see the proposal with its map line
and figures, and accept it in the browser; the deal is agreed and quantities reserved."""

from __future__ import annotations

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.browser


def sign_in(page, base, email, password):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def open_menu(page):
    """On a phone the navigation folds into a menu."""
    if page.is_visible(".menu-toggle"):
        page.click(".menu-toggle")


def sign_out(page):
    open_menu(page)
    page.click("header form button:has-text('ログアウト'), header form button:has-text('Sign out')")
    page.wait_for_load_state()


def test_run_propose_accept(live_server, page):
    app, base = live_server
    from market.accounts.services import create_site_admin
    from market.allocation.models import Proposal
    from tests.conftest import PASSWORD, Factory

    factory = Factory(app)
    supplier, receiver = factory.user(), factory.user()
    offer = factory.listing(supplier, "soil_offer", quantity=1000, title="江東区 第2b種 1,000m³")
    want = factory.listing(
        receiver,
        "soil_want",
        quantity=600,
        lat=35.5308,
        lon=139.7029,
        prefecture_code="14",
        title="川崎 盛土 600m³",
    )
    with app.test_request_context():
        session = app.extensions["meguri.db"].session()
        create_site_admin(session, "ops@example.jp", "ops password!", "Ops")
        session.commit()

    sign_in(page, base, "ops@example.jp", "ops password!")
    page.goto(f"{base}/matching/runs")
    page.select_option("#family", "soil")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/matching/runs/*")
    assert page.locator("#run-bar").get_attribute("value") in ("1", "1.0")
    assert "川崎 盛土 600m³" in page.inner_text("main table")
    sign_out(page)

    sign_in(page, base, supplier.email, PASSWORD)
    page.goto(f"{base}/proposals")
    page.click(".proposal a")
    page.wait_for_selector("#proposal-map path.leaflet-interactive")  # the route line is drawn
    text = page.inner_text("main")
    assert "km" in text and "川崎 盛土 600m³" in text
    page.click("#accept")
    page.wait_for_load_state()
    sign_out(page)

    sign_in(page, base, receiver.email, PASSWORD)
    page.goto(f"{base}/proposals")
    page.click(".proposal a")
    page.click("#accept")
    page.wait_for_load_state()
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        proposal = session.scalar(select(Proposal))
        assert (proposal.state, proposal.supply_id, proposal.demand_id) == ("agreed", offer, want)
        session.close()
    assert page.locator("#proposal-state").count() == 1
