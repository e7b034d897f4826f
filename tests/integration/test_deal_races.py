"""Deciding a deal under real concurrency, through the pages people use: the app under
gunicorn (4 workers × 4 threads) on PostgreSQL, signed-in browsers pressing 承諾する at the
same moment (issue 12, races 2 and 3). Every round ends with exactly one deal: one
accepted order, its quantity committed once on each listing, no error page.

- both parties accept at the same moment (before: both decisions saved, no deal);
- the second party's accept sent twice at once (before: two orders, double reservation).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from decimal import Decimal
from urllib.parse import urlencode
from urllib.request import Request

import pytest

from tests.conftest import PASSWORD, PG_REASON, PG_URL, listing_data
from tests.integration import stack
from tests.integration.test_database_restart import Browser

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

ROUNDS = 3
QUANTITY = 100


def _seed(url: str, instance) -> dict:
    from market.accounts import services as accounts
    from market.catalog import services as catalog
    from market.catalog import validation
    from market.catalog.models import ListingKind

    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            ids = {}
            for role, kind in (("supplier", "soil_offer"), ("receiver", "soil_want")):
                user = accounts.sign_up(
                    s,
                    email=f"{role}@example.jp",
                    password=PASSWORD,
                    display_name=role,
                    org_name=f"{role} 建設",
                    org_kind="contractor",
                )
                user.email_verified_at = dt.datetime(2026, 1, 1)
                data = {**listing_data(kind), "quantity": 10_000}
                clean = validation.validate(s, ListingKind(kind), data)
                ids[role] = catalog.create_listing(s, user, ListingKind(kind), clean).id
            s.commit()
            return ids
    finally:
        app.extensions["meguri.db"].dispose()


def _new_deal(url: str, instance, ids: dict) -> int:
    """A matching run's pair deal, stored as the run job stores it."""
    from market.allocation import runs
    from market.allocation.instance import listing_ref
    from market.allocation.models import MatchRun

    supply, demand = listing_ref(ids["supplier"]), listing_ref(ids["receiver"])
    flow = {
        "supply": supply,
        "demand": demand,
        "via": None,
        "quantity": QUANTITY,
        "road_km": 20.0,
        "transport_cost": 1000.0,
        "co2_kg": 50.0,
        "net_benefit": 5000.0,
    }
    instance_doc = {
        "supplies": [{"id": supply, "class": "2b", "disposal_cost": 1500.0}],
        "demands": [{"id": demand, "value": 1800.0}],
    }
    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            run = MatchRun(family="soil", region=["13"], status="done")
            s.add(run)
            s.flush()
            result = {"status": "optimal", "net_benefit": 1, "upper_bound": 1, "flows": [flow]}
            runs._store(s, run, instance_doc, result)
            s.commit()
            return run.proposals[0].id
    finally:
        app.extensions["meguri.db"].dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("deal-races-instance")
    with stack.scratch_database(PG_URL, "deal_races") as url:
        ids = _seed(url, instance)
        with stack.stack(url, instance, MEGURI_RATE_LIMITS="0") as running:
            web = running.start_web(workers=4, threads=4)
            yield {"port": running.port, "url": url, "instance": instance, "log": web.log, **ids}


def _accept_form(browser: Browser, proposal_id: int) -> bytes:
    code, page = browser.get(f"/proposals/{proposal_id}")
    assert code == 200, page[-500:]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return urlencode({"csrf_token": csrf}).encode()


def _press_at_once(presses) -> list[tuple[int, str]]:
    barrier = threading.Barrier(len(presses))
    results: list = [None] * len(presses)

    def run(i, browser, proposal_id, body):
        barrier.wait()
        try:
            request = Request(f"{browser.base}/proposals/{proposal_id}/accept", data=body)
            with browser.opener.open(request, timeout=60) as response:
                results[i] = (response.status, response.read().decode(errors="replace"))
        except Exception as exc:  # noqa: BLE001 - an HTTP error or a dropped connection
            results[i] = (getattr(exc, "code", 0), repr(exc))

    threads = [threading.Thread(target=run, args=(i, *p)) for i, p in enumerate(presses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _check_one_deal(server, proposal_id, results, round_no):
    bad = [r for r in results if r is None or r[0] != 200]
    assert not bad, f"{bad}\n{server['log'].read_text(errors='replace')[-3000:]}"
    for _, page in results:  # every press lands on the proposal page, never an error page
        assert 'id="proposal-state"' in page
    orders = stack.rows(
        server["url"],
        "SELECT status, quantity FROM orders WHERE proposal_ref = :ref",
        ref=f"proposal:{proposal_id}",
    )
    assert [(status, Decimal(q)) for status, q in orders] == [("accepted", Decimal(QUANTITY))]
    state = stack.scalar(
        server["url"], "SELECT state FROM proposals WHERE id = :id", id=proposal_id
    )
    assert state == "agreed"
    for listing in (server["supplier"], server["receiver"]):
        committed = stack.scalar(
            server["url"], "SELECT committed_quantity FROM listings WHERE id = :id", id=listing
        )
        assert Decimal(committed) == QUANTITY * round_no  # once per deal, never twice


def test_both_parties_accepting_at_once_and_one_accepting_twice_make_one_deal(server):
    supplier, receiver, receiver_tab = (Browser(server["port"]) for _ in range(3))
    supplier.sign_in("supplier@example.jp")
    receiver.sign_in("receiver@example.jp")
    receiver_tab.sign_in("receiver@example.jp")
    made = 0
    for _ in range(ROUNDS):
        # race 3: both parties at the same moment
        proposal_id = _new_deal(server["url"], server["instance"], server)
        results = _press_at_once(
            [
                (supplier, proposal_id, _accept_form(supplier, proposal_id)),
                (receiver, proposal_id, _accept_form(receiver, proposal_id)),
            ]
        )
        made += 1
        _check_one_deal(server, proposal_id, results, made)

        # race 2: the supplier accepted earlier; the receiver's accept arrives twice at once
        proposal_id = _new_deal(server["url"], server["instance"], server)
        supplier_body = _accept_form(supplier, proposal_id)
        with supplier.opener.open(
            Request(f"{supplier.base}/proposals/{proposal_id}/accept", data=supplier_body),
            timeout=60,
        ) as response:
            assert response.status == 200
        results = _press_at_once(
            [
                (receiver, proposal_id, _accept_form(receiver, proposal_id)),
                (receiver_tab, proposal_id, _accept_form(receiver_tab, proposal_id)),
            ]
        )
        made += 1
        _check_one_deal(server, proposal_id, results, made)
