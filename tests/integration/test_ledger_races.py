"""The quantity ledger under real concurrency: the app under gunicorn (4 workers × 4
threads) on PostgreSQL, the seller editing a listing's quantity (10 ↔ 11) while buyers'
orders are accepted at the same moment (issue 12, races 1 and 8). Every round ends with
exactly what the accepted orders hold committed, open + committed = quantity, the status
following what is open, the ledger rows adding up, and no error responses.

The proposal races (2 and 3) run against PostgreSQL in tests/web/test_proposals_kept_true.py
(threads on the service, since proposals are decided through signed-in forms).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import PG_REASON, PG_URL, listing_data
from tests.integration import stack
from tests.integration.test_oversell import _all_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

BUYERS = 24
EDITS = 12


@pytest.fixture(scope="module")
def scratch_database():
    with stack.scratch_database(PG_URL, "ledger_races") as url:
        yield url


def _seed(url: str, instance: Path) -> dict:
    from market.accounts import services as accounts
    from market.catalog import services as catalog
    from market.catalog import validation
    from market.catalog.models import Listing, ListingKind
    from market.orders import requests

    app = stack.make_app(url, instance)
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
                    {**listing_data("soil_offer"), "quantity": 10, "price_per_unit": 800},
                )
                ids[key] = catalog.create_listing(s, supplier, ListingKind.soil_offer, clean).id
            requests.set_instant_accept(s, supplier, s.get(Listing, ids["instant"]), True)
            ids["buyer_tokens"] = [
                accounts.issue_api_token(s, buyer, f"buyer {i}")[1] for i in range(BUYERS)
            ]
            ids["seller_tokens"] = [
                accounts.issue_api_token(s, supplier, f"seller {i}")[1]
                for i in range(BUYERS + EDITS)
            ]
            s.commit()
            return ids
    finally:
        app.extensions["meguri.db"].dispose()


@pytest.fixture(scope="module")
def server(scratch_database, tmp_path_factory):
    instance = tmp_path_factory.mktemp("ledger-races-instance")
    seeded = _seed(scratch_database, instance)
    with stack.stack(scratch_database, instance) as running:
        web = running.start_web(workers=4, threads=4, ready_path="/api/v1/openapi.json")
        yield {"port": running.port, "url": scratch_database, "log": web.log, **seeded}


def _edits(server, listing_id):
    return [
        lambda token=token, q=10 + (i % 2): stack.call(
            server["port"], "PATCH", f"/api/v1/listings/{listing_id}", {"quantity": q}, token
        )
        for i, token in enumerate(server["seller_tokens"][BUYERS:])
    ]


def _check(server, listing_id, results):
    errors = [r for r in results if r[0] >= 500 or r[0] == 0]
    assert not errors, f"{errors[:3]}\n{server['log'].read_text(errors='replace')[-3000:]}"
    for code, body in results:
        if code == 409:  # refused with a reason, naming the field when it is the quantity
            assert isinstance(body, dict) and body.get("error"), body
    url = server["url"]
    quantity, opened, committed, delivered, status = stack.rows(
        url,
        "SELECT quantity, open_quantity, committed_quantity, delivered_quantity, status "
        "FROM listings WHERE id = :id",
        id=listing_id,
    )[0]
    held = stack.scalar(
        url,
        "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE listing_id = :id "
        "AND status = 'accepted'",
        id=listing_id,
    )
    ledger = stack.rows(
        url,
        "SELECT SUM(open_change), SUM(committed_change), SUM(delivered_change) "
        "FROM ledger_entries WHERE listing_id = :id",
        id=listing_id,
    )[0]
    assert Decimal(committed) == Decimal(held)  # nothing reserved vanished or doubled
    assert Decimal(opened) + Decimal(committed) + Decimal(delivered) == Decimal(quantity)
    assert Decimal(committed) <= Decimal(quantity) and Decimal(opened) >= 0
    assert tuple(Decimal(x) for x in ledger) == (
        Decimal(opened),
        Decimal(committed),
        Decimal(delivered),
    )
    assert status == ("open" if Decimal(opened) > 0 else "reserved")
    return Decimal(committed)


def test_edits_racing_instant_acceptance_never_oversell_or_lose_a_reservation(server):
    listing_id = server["instant"]
    requests = [
        lambda token=token: stack.call(
            server["port"],
            "POST",
            "/api/v1/orders",
            {"listing_id": listing_id, "quantity": 1},
            token,
        )
        for token in server["buyer_tokens"]
    ]
    results = _all_at_once(requests + _edits(server, listing_id))
    committed = _check(server, listing_id, results)
    accepted = [r for r in results if r[0] == 201]
    assert len(accepted) == committed  # one unit per accepted request, none oversold
    assert 10 <= committed <= 11


def test_edits_racing_the_seller_accepting_never_oversell_or_lose_a_reservation(server):
    listing_id = server["manual"]
    order_ids = []
    for _ in range(BUYERS):
        code, body = stack.call(
            server["port"],
            "POST",
            "/api/v1/orders",
            {"listing_id": listing_id, "quantity": 1},
            server["buyer_tokens"][0],
        )
        assert code == 201, body
        order_ids.append(body["id"])
    accepts = [
        lambda oid=oid, token=token: stack.call(
            server["port"], "POST", f"/api/v1/orders/{oid}/actions/accept", {}, token
        )
        for oid, token in zip(order_ids, server["seller_tokens"][:BUYERS], strict=True)
    ]
    results = _all_at_once(accepts + _edits(server, listing_id))
    committed = _check(server, listing_id, results)
    assert 10 <= committed <= 11
