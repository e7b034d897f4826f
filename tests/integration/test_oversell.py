"""No overselling under real concurrency: the app under gunicorn (4 workers × 4 threads) on PostgreSQL,
50 simultaneous requests for a listing that can satisfy 10 → exactly 10 accepted, open
quantity exactly 0, the other 40 refused with a reason, and no error responses.

Two races: requests on a listing with instant acceptance (request + reserve in one
request), and the seller accepting 50 requested orders at once.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_REASON, PG_URL, listing_data
from tests.integration import stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

REQUESTS = 50
AVAILABLE = 10


@pytest.fixture(scope="module")
def scratch_database():
    """A database of its own, migrated, dropped afterwards."""
    with stack.scratch_database(PG_URL, "oversell") as url:
        yield url


def _seed(url: str, instance: Path) -> dict:
    """Two organisations, two listings of 10 m³ (one with instant acceptance), API tokens."""
    from market import create_app
    from market.accounts import services as accounts
    from market.catalog import services as catalog
    from market.catalog import validation
    from market.catalog.models import Listing, ListingKind
    from market.orders import requests

    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": "seed",
            "JOBS_IMMEDIATE": True,
            "TESTING": True,
        }
    )
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            supplier = accounts.sign_up(
                s,
                email="supplier@example.jp",
                password="long enough pw",
                display_name="Supplier",
                org_name="供給建設",
                org_kind="contractor",
            )
            buyer = accounts.sign_up(
                s,
                email="buyer@example.jp",
                password="long enough pw",
                display_name="Buyer",
                org_name="受入土木",
                org_kind="contractor",
            )
            ids = {}
            for key in ("instant", "manual"):
                clean = validation.validate(
                    s,
                    ListingKind.soil_offer,
                    {**listing_data("soil_offer"), "quantity": AVAILABLE, "price_per_unit": 800},
                )
                ids[key] = catalog.create_listing(s, supplier, ListingKind.soil_offer, clean).id
            requests.set_instant_accept(s, supplier, s.get(Listing, ids["instant"]), True)
            # A token per request: a shared token row (its last-used time is written on every
            # request) would queue the requests one behind the other and hide any race.
            ids["buyer_tokens"] = [
                accounts.issue_api_token(s, buyer, f"buyer {i}")[1] for i in range(REQUESTS)
            ]
            ids["seller_tokens"] = [
                accounts.issue_api_token(s, supplier, f"seller {i}")[1] for i in range(REQUESTS)
            ]
            s.commit()
            return ids
    finally:
        app.extensions["meguri.db"].dispose()


@pytest.fixture(scope="module")
def server(scratch_database, tmp_path_factory):
    instance = tmp_path_factory.mktemp("oversell-instance")
    seeded = _seed(scratch_database, instance)
    with stack.stack(scratch_database, instance) as running:
        web = running.start_web(workers=4, ready_path="/api/v1/openapi.json")
        yield {"port": running.port, "url": scratch_database, "log": web.log, **seeded}


_call = stack.call


def _all_at_once(calls) -> list[tuple[int, object]]:
    """Run the calls in threads released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - a failed connection is a result to report
            results[i] = (0, repr(exc))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _listing_and_orders(url: str, listing_id: int):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            open_quantity, status = conn.execute(
                sa.text("SELECT open_quantity, status FROM listings WHERE id = :id"),
                {"id": listing_id},
            ).one()
            orders = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM orders WHERE listing_id = :id GROUP BY status"
                ),
                {"id": listing_id},
            ).all()
        return Decimal(open_quantity), status, dict(orders)
    finally:
        engine.dispose()


def _check(results, server, success_status: int):
    codes = sorted(code for code, _ in results)
    errors = [r for r in results if r[0] >= 500 or r[0] == 0]
    assert not errors, (
        f"error responses: {errors[:3]}\n{server['log'].read_text(errors='replace')[-3000:]}"
    )
    successes = [r for r in results if r[0] == success_status]
    refusals = [r for r in results if r[0] != success_status]
    assert len(successes) == AVAILABLE, codes
    assert len(refusals) == REQUESTS - AVAILABLE, codes
    for code, body in refusals:
        assert code == 409, (code, body)
        assert isinstance(body, dict) and body.get("error"), body  # a reason, not a bare status


def test_fifty_concurrent_requests_with_instant_acceptance_take_exactly_ten(server):
    listing_id = server["instant"]
    calls = [
        lambda token=token: _call(
            server["port"],
            "POST",
            "/api/v1/orders",
            {"listing_id": listing_id, "quantity": 1},
            token,
        )
        for token in server["buyer_tokens"]
    ]
    results = _all_at_once(calls)
    _check(results, server, 201)
    assert all(body["status"] == "accepted" for code, body in results if code == 201)
    open_quantity, status, orders = _listing_and_orders(server["url"], listing_id)
    assert open_quantity == 0
    assert status == "reserved"
    assert orders == {"accepted": AVAILABLE}  # refused requests left no order behind


def test_seller_accepting_fifty_requests_at_once_accepts_exactly_ten(server):
    listing_id = server["manual"]
    order_ids = []
    for _ in range(REQUESTS):
        code, body = _call(
            server["port"],
            "POST",
            "/api/v1/orders",
            {"listing_id": listing_id, "quantity": 1},
            server["buyer_tokens"][0],
        )
        assert code == 201 and body["status"] == "requested", body
        order_ids.append(body["id"])
    calls = [
        lambda oid=oid, token=token: _call(
            server["port"], "POST", f"/api/v1/orders/{oid}/actions/accept", {}, token
        )
        for oid, token in zip(order_ids, server["seller_tokens"], strict=True)
    ]
    results = _all_at_once(calls)
    _check(results, server, 200)
    open_quantity, status, orders = _listing_and_orders(server["url"], listing_id)
    assert open_quantity == 0
    assert status == "reserved"
    assert orders == {"accepted": AVAILABLE, "requested": REQUESTS - AVAILABLE}
