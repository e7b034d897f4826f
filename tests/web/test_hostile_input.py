"""Hostile input as a tester sends it: every case answers a clear 4xx in JSON naming the
field, and changes nothing (on SQLite and PostgreSQL, which refuses NUL in text)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market.finder.models import SavedSearch
from market.orders.models import Delivery, Order, OrderRefund, OrderTransition
from tests.conftest import in_session
from tests.web.test_order_refunds import paid  # noqa: F401 - fixture
from tests.web.test_orders import REG_BUYER, REG_SELLER, Reader, request_quantity, signed_in

NUL = "before\x00after"


@pytest.fixture
def db(app):
    return Reader(app)  # what ``paid`` reads with: never an app context held across requests


def token_headers(app, member) -> dict:
    from market.accounts.models import User
    from market.accounts.services import issue_api_token

    secret = in_session(app, lambda s: issue_api_token(s, s.get(User, member.id), "t")[1])
    return {"Authorization": f"Bearer {secret}"}


def count(app, model) -> int:
    return in_session(app, lambda s: s.scalar(select(func.count()).select_from(model)))


def assert_names(response, field: str, status=(400, 422)):
    assert response.status_code in status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)[:200]  # JSON, not an HTML page
    assert field in body["errors"], body
    return body


@pytest.fixture
def requested(app, factory):
    """An order requested by a contractor on a supplier's soil, both with API tokens."""
    supplier = factory.user(invoice_registration_no=REG_SELLER)
    contractor = factory.user(invoice_registration_no=REG_BUYER)
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    order_id = request_quantity(signed_in(app, contractor), listing_id)
    return {
        "listing_id": listing_id,
        "order_id": order_id,
        "buyer": token_headers(app, contractor),
        "seller": token_headers(app, supplier),
        "supplier": supplier,
    }


def test_nul_in_an_order_note_is_refused_naming_the_field(app, client, requested):
    before = count(app, Order)
    response = client.post(
        "/api/v1/orders",
        json={"listing_id": requested["listing_id"], "quantity": 1, "note": NUL},
        headers=requested["buyer"],
    )
    assert_names(response, "note")
    assert count(app, Order) == before


def test_nul_in_a_decline_note_is_refused_and_the_order_stays(app, client, requested):
    before = count(app, OrderTransition)
    response = client.post(
        f"/api/v1/orders/{requested['order_id']}/actions/decline",
        json={"note": NUL},
        headers=requested["seller"],
    )
    assert_names(response, "note")
    assert count(app, OrderTransition) == before


def test_control_characters_anywhere_in_a_body_are_named_with_their_path(app, client, requested):
    response = client.post(
        f"/api/v1/orders/{requested['order_id']}/actions/decline",
        json={"note": "ok", "extra": {"deep": ["fine", "bell\x07"]}},
        headers=requested["seller"],
    )
    assert_names(response, "extra.deep.1")
    keyed = client.post(
        "/api/v1/orders",
        json={"listing_id": requested["listing_id"], "quantity": 1, "no\x00te": "x"},
        headers=requested["buyer"],
    )
    assert keyed.status_code in (400, 422) and keyed.get_json()["errors"]


def test_lines_and_tabs_in_a_note_are_kept(app, client, requested):
    response = client.post(
        "/api/v1/orders",
        json={"listing_id": requested["listing_id"], "quantity": 1, "note": "一行目\n\t二行目"},
        headers=requested["buyer"],
    )
    assert response.status_code == 201, response.get_json()


def test_nul_in_a_delivery_reference_and_a_refund_reason(app, client, paid):  # noqa: F811
    order_id, _buyer, _seller, supplier, contractor = paid
    seller = token_headers(app, supplier)
    deliveries, refunds = count(app, Delivery), count(app, OrderRefund)
    response = client.post(
        f"/api/v1/orders/{order_id}/deliveries",
        json={"quantity": 1, "reference": NUL},
        headers=seller,
    )
    assert_names(response, "reference")
    response = client.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount_yen": 100, "reason": NUL},
        headers={**seller, "Idempotency-Key": "k-1"},
    )
    assert_names(response, "reason")
    assert (count(app, Delivery), count(app, OrderRefund)) == (deliveries, refunds)


def test_a_failed_flush_still_answers_json(app, client, requested):
    """Should a value the checks let through be refused by the database on flush, the error
    handler answers in JSON even though the session is waiting for a rollback."""
    from sqlalchemy import event
    from sqlalchemy.exc import DataError

    engine = app.extensions["meguri.db"].engine

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ORDER_TRANSITIONS"):
            raise DataError(statement, parameters, Exception("invalid byte sequence"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        response = client.post(
            f"/api/v1/orders/{requested['order_id']}/actions/decline",
            json={"note": "fine"},
            headers=requested["seller"],
        )
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert 400 <= response.status_code < 600
    assert response.get_json() is not None and "error" in response.get_json()


@pytest.mark.parametrize("field", ["_scheme", "endpoint", "_external", "_anchor", "_method"])
def test_extra_form_fields_on_a_saved_search_never_reach_url_building(app, factory, field):
    member = factory.user()
    browser = signed_in(app, member)
    before = count(app, SavedSearch)
    response = browser.post(
        "/search/saved", data={"name": "盛土", "q": "盛土", field: "https" if field else "x"}
    )
    assert response.status_code in (302, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/search")
        saved = in_session(app, lambda s: s.scalars(select(SavedSearch)).all())
        assert len(saved) == before + 1 and field not in saved[-1].params
    else:
        assert count(app, SavedSearch) == before


@pytest.mark.parametrize(
    "query",
    [
        "status=null",
        "status=nope",
        "status=",
        "status=requested%07",
        "status=requested&status=paid",
        "colour=red",
    ],
)
def test_an_unknown_order_status_filter_is_refused(app, client, requested, query):
    response = client.get(f"/api/v1/orders?{query}", headers=requested["buyer"])
    assert_names(response, query.split("=")[0], status=(400,))
    assert (
        client.get("/api/v1/orders?status=requested", headers=requested["buyer"]).status_code == 200
    )


@pytest.mark.parametrize(
    "body", [{"ids": None}, {"ids": "all"}, {"ids": [True]}, {"ids": [2**63]}, {"idz": [1]}]
)
def test_marking_notifications_read_needs_ids_or_all(app, client, requested, body):
    from market.notifications.models import Notification

    def unread(s):
        return s.scalar(
            select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
        )

    before = in_session(app, unread)
    assert before > 0  # the request told the supplier
    response = client.post("/api/v1/notifications/read", json=body, headers=requested["seller"])
    assert response.status_code in (400, 422), response.get_json()
    assert response.get_json()["errors"]
    assert in_session(app, unread) == before


@pytest.mark.parametrize("value", [2**31, 2**63, 10**19])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/{}",
        "/api/v1/orders/{}/tickets",
        "/api/v1/tickets/{}",
        "/api/v1/listings/{}",
        "/orders/{}",
        "/listings/{}",
    ],
)
def test_ids_out_of_range_in_paths_are_not_found(app, client, requested, path, value):
    # Pages need a signed-in browser (else they send to the sign-in page); the API a token.
    browser = client if path.startswith("/api/") else signed_in(app, requested["supplier"])
    response = browser.get(path.format(value), headers=requested["buyer"])
    assert response.status_code == 404


@pytest.mark.parametrize("operator_id", [str(2**31), str(2**63), str(10**19), "²", "１", "-1"])
def test_a_partner_operator_id_out_of_range_is_named_not_a_500(app, factory, operator_id):
    from market.accounts.models import Partnership

    factory.user("reuse_operator")  # one to choose, so that the form is shown
    city = factory.user("municipality")
    browser = signed_in(app, city)
    response = browser.post("/organisation/partners", data={"operator_id": operator_id})
    assert response.status_code == 400
    assert 'id="operator_id-error"' in response.get_data(as_text=True)
    assert count(app, Partnership) == 0


@pytest.mark.parametrize("order_id", [str(2**63), "²", "1.0"])
def test_a_pickup_order_id_out_of_range_is_named_not_a_500(app, factory, order_id):
    member = factory.user("reuse_operator")
    browser = signed_in(app, member)
    response = browser.post("/pickups/slots/1/bookings", data={"order_id": order_id})
    assert response.status_code in (302, 400, 404, 422)  # no such slot / order, said plainly


def test_web_forms_read_only_their_declared_fields_and_name_the_oversized(app):
    from market.accounts.models import User

    before = count(app, User)
    response = app.test_client().post(
        "/signup",
        data={
            "email": "new@example.jp",
            "password": "x" * 5000,
            "display_name": "名前",
            "org_name": "新しい組織",
            "org_kind": "contractor",
            "endpoint": "core.home",
            "_scheme": "https",
        },
    )
    assert response.status_code == 400
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert count(app, User) == before


@pytest.mark.parametrize("value", [2**31, 2**63, "9" * 5000])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/v1/listings/{}"),
        ("put", "/api/v1/listings/{}"),
        ("post", "/api/v1/listings/{}/close"),
        ("post", "/api/v1/orders/{}/deliveries"),
        ("post", "/api/v1/orders/{}/actions/accept"),
    ],
)
def test_ids_out_of_range_are_not_found_whatever_the_method(
    app, client, requested, method, path, value
):
    response = getattr(client, method)(path.format(value), json={}, headers=requested["seller"])
    assert response.status_code in (404, 422), response.get_json()  # never 405
