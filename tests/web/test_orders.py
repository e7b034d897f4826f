"""Orders as the two organisations meet them: request, accept, invoice, payment, deliveries,
completion; refusals that say why; other organisations' orders stay invisible."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.catalog.models import Listing, ListingStatus
from market.orders.models import Order, OrderPayment, OrderStatus
from tests.conftest import PASSWORD

REG_SELLER = "T1234567890123"
REG_BUYER = "T9876543210987"


def signed_in(app, member):
    client = app.test_client()
    response = client.post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/lang/en", data={"next": "/"})  # assertions below read the English text
    return client


class Reader:
    """Reads rows in an app context of its own: holding one open across requests would
    share ``g`` (the signed-in user, the locale) between the test clients."""

    def __init__(self, app):
        self.app = app

    def __call__(self, fn):
        with self.app.app_context():
            session = self.app.extensions["meguri.db"].session()
            result = fn(session)
            session.expunge_all()  # keep what was loaded, detached, without expiring it
            return result


@pytest.fixture
def db(app):
    return Reader(app)


def order_row(db, order_id: int) -> Order:
    def load(session):
        order = session.get(Order, order_id)
        for transition in order.transitions:
            _ = transition.actor
        _ = (order.payments, order.deliveries)
        return order

    return db(load)


def listing_row(db, listing_id: int) -> Listing:
    return db(lambda session: session.get(Listing, listing_id))


def request_quantity(client, listing_id: int, **form) -> int:
    data = {"quantity": "30", "transport_arrangement": "supplier_delivers", **form}
    response = client.post(f"/listings/{listing_id}/orders/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def act(client, order_id: int, action: str, **form):
    return client.post(f"/orders/{order_id}/actions/{action}", data=form)


@pytest.fixture
def trade(app, factory):
    """A supplier with 100 m³ of soil at ¥800/m³ and a contractor that wants some."""
    supplier = factory.user(invoice_registration_no=REG_SELLER)
    contractor = factory.user(invoice_registration_no=REG_BUYER)
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    return supplier, contractor, listing_id


def test_invoice_flow_from_request_to_completion(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)

    page = buyer.get(f"/listings/{listing_id}").get_data(as_text=True)
    assert 'id="request-quantity"' in page
    order_id = request_quantity(buyer, listing_id)
    assert order_row(db, order_id).status == OrderStatus.requested
    assert listing_row(db, listing_id).open_quantity == 100  # nothing reserved until accepted

    assert f"/orders/{order_id}" in seller.get("/orders").get_data(as_text=True)
    response = act(seller, order_id, "accept", transport_fee_yen="20,000")
    assert response.status_code == 302
    assert order_row(db, order_id).status == OrderStatus.accepted
    assert listing_row(db, listing_id).open_quantity == 70

    # Money, the same for both parties: 30 × ¥800 + ¥20,000 transport, 10 % tax once per rate.
    for client in (buyer, seller):
        page = client.get(f"/orders/{order_id}").get_data(as_text=True)
        assert "¥44,000" in page and "¥4,400" in page and "¥48,400" in page
        assert "¥1,452" in page  # 3 % platform fee 1,320 + its tax 132, borne by the payee

    assert act(seller, order_id, "issue_invoice").status_code == 302
    order = order_row(db, order_id)
    assert order.status == OrderStatus.invoiced
    payment = order.current_payment
    assert (payment.backend, payment.amount_yen, payment.payer_org_id, payment.payee_org_id) == (
        "invoice",
        48400,
        contractor.org_id,
        supplier.org_id,
    )

    invoice = buyer.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    assert "適格請求書" in invoice and REG_SELLER in invoice and "¥48,400" in invoice
    pdf = buyer.get(f"/orders/{order_id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Cache-Control"] == "no-store"  # not kept on a shared computer

    # Only the payee confirms the transfer.
    refused = act(buyer, order_id, "mark_paid")
    assert refused.status_code == 403
    assert "Only the organisation that receives the payment may do this." in refused.get_data(
        as_text=True
    )
    assert act(seller, order_id, "mark_paid").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.paid

    # Partial deliveries, never beyond the order.
    assert (
        seller.post(
            f"/orders/{order_id}/deliveries", data={"quantity": "10", "reference": "M-001"}
        ).status_code
        == 302
    )
    assert order_row(db, order_id).status == OrderStatus.in_delivery
    too_much = seller.post(f"/orders/{order_id}/deliveries", data={"quantity": "25"})
    assert too_much.status_code == 422
    assert "Only 20 m3 remain to be delivered" in too_much.get_data(as_text=True)
    assert buyer.post(f"/orders/{order_id}/deliveries", data={"quantity": "20"}).status_code == 302
    assert order_row(db, order_id).status == OrderStatus.delivered

    assert act(seller, order_id, "complete").status_code == 403  # the receiver confirms
    assert act(buyer, order_id, "complete").status_code == 302
    order = order_row(db, order_id)
    assert order.status == OrderStatus.completed
    history = [(t.action, t.to_status, t.actor_org_id) for t in order.transitions]
    assert history[0] == ("request", "requested", contractor.org_id)
    assert ("accept", "accepted", supplier.org_id) in history
    assert ("finish_delivery", "delivered", None) in history
    assert history[-1] == ("complete", "completed", contractor.org_id)
    assert all(t.created_at is not None for t in order.transitions)
    page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'id="history"' in page and "Meguri (automatic)" in page


def test_transitions_refused_for_the_wrong_party_or_state(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id)

    response = act(buyer, order_id, "accept")
    assert response.status_code == 403
    assert "Only the listing&#39;s organisation may do this." in response.get_data(as_text=True)

    response = act(buyer, order_id, "complete")
    assert response.status_code == 409
    assert "cannot be moved" in response.get_data(as_text=True)

    assert act(seller, order_id, "mark_paid").status_code == 409
    assert act(seller, order_id, "teleport").status_code == 404
    assert seller.post(f"/orders/{order_id}/deliveries", data={"quantity": "1"}).status_code == 409

    assert act(seller, order_id, "decline", note="no capacity").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.declined
    assert act(seller, order_id, "accept").status_code == 409
    assert listing_row(db, listing_id).open_quantity == 100

    # The buttons shown are exactly the allowed ones.
    order_id = request_quantity(buyer, listing_id)
    buyer_page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    seller_page = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f"/orders/{order_id}/actions/accept" in seller_page
    assert f"/orders/{order_id}/actions/accept" not in buyer_page
    assert f"/orders/{order_id}/actions/cancel" in buyer_page


def test_another_organisations_order_is_invisible(app, db, factory, trade):
    supplier, contractor, listing_id = trade
    order_id = request_quantity(signed_in(app, contractor), listing_id)
    stranger = signed_in(app, factory.user())
    assert stranger.get(f"/orders/{order_id}").status_code == 404
    assert act(stranger, order_id, "accept").status_code == 404
    assert stranger.get(f"/orders/{order_id}/invoice").status_code == 404
    assert f"/orders/{order_id}" not in stranger.get("/orders").get_data(as_text=True)
    assert order_row(db, order_id).status == OrderStatus.requested


def test_client_sent_amounts_are_ignored(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer = signed_in(app, contractor)
    order_id = request_quantity(
        buyer,
        listing_id,
        quantity="2",
        unit_price_yen="1",
        price_per_unit="1",
        total_yen="1",
        amount_yen="1",
        transport_fee_yen="-999999",
    )
    order = order_row(db, order_id)
    assert (order.unit_price_yen, order.transport_fee_yen) == (800, 0)
    seller = signed_in(app, supplier)
    act(seller, order_id, "accept", amount_yen="5")
    act(seller, order_id, "issue_invoice", amount_yen="5", total_yen="5")
    assert order_row(db, order_id).current_payment.amount_yen == 1760  # 2 × 800 + 10 %


def test_negative_price_the_supplier_pays_and_the_receiver_invoices(app, db, factory):
    supplier = factory.user(invoice_registration_no=REG_SELLER)
    receiver = factory.user(invoice_registration_no=REG_BUYER)
    listing_id = factory.listing(supplier, "soil_offer", quantity=50, price_per_unit=-1500)
    buyer, seller = signed_in(app, receiver), signed_in(app, supplier)
    order_id = request_quantity(
        buyer, listing_id, quantity="10", transport_arrangement="receiver_collects"
    )
    assert act(seller, order_id, "accept").status_code == 302

    page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "the supplier pays the receiver" in page
    assert "¥16,500" in page  # 10 × 1,500 + 10 % tax, shown from the payee's side

    refused = act(seller, order_id, "issue_invoice")
    assert refused.status_code == 403  # the payee (the receiver) issues the invoice
    assert act(buyer, order_id, "issue_invoice").status_code == 302
    payment = order_row(db, order_id).current_payment
    assert (payment.payer_org_id, payment.payee_org_id, payment.amount_yen) == (
        supplier.org_id,
        receiver.org_id,
        16500,
    )
    invoice = seller.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    assert REG_BUYER in invoice and "逆有償" in invoice
    assert act(buyer, order_id, "mark_paid").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.paid


def test_on_a_want_listing_the_requester_supplies(app, db, factory):
    site = factory.user()
    supplier = factory.user()
    want_id = factory.listing(site, "soil_want", quantity=500, price_per_unit=200)
    order_id = request_quantity(signed_in(app, supplier), want_id, quantity="100")
    order = order_row(db, order_id)
    assert (order.seller_org_id, order.buyer_org_id) == (supplier.org_id, site.org_id)
    assert (
        act(signed_in(app, site), order_id, "accept").status_code == 302
    )  # the listing owner answers


def test_request_errors_name_the_field_and_create_nothing(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer = signed_in(app, contractor)
    for quantity, status, text in (
        ("", 422, "Enter a quantity."),
        ("-3", 422, "Must be more than 0."),
        ("abc", 422, "Must be a number."),
        ("1.0001", 422, "3 decimal places"),
        ("101", 409, "Only 100 m3 are still open"),
    ):
        response = buyer.post(f"/listings/{listing_id}/orders/new", data={"quantity": quantity})
        assert response.status_code == status
        page = response.get_data(as_text=True)
        assert 'id="quantity-error"' in page and text in page
    own = signed_in(app, supplier).post(
        f"/listings/{listing_id}/orders/new", data={"quantity": "1"}
    )
    assert own.status_code == 403
    assert db(lambda s: s.scalar(select(Order))) is None


def test_cancel_after_acceptance_gives_the_quantity_back_and_reopens_the_listing(app, db, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=5, price_per_unit=800)
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id, quantity="5")
    second = request_quantity(buyer, listing_id, quantity="1")
    assert act(seller, order_id, "accept").status_code == 302
    listing = listing_row(db, listing_id)
    assert (listing.open_quantity, listing.status) == (0, ListingStatus.reserved)

    refused = act(seller, second, "accept")
    assert refused.status_code == 409
    assert order_row(db, second).status == OrderStatus.requested

    assert act(buyer, order_id, "cancel", note="plans changed").status_code == 302
    listing = listing_row(db, listing_id)
    assert (listing.open_quantity, listing.status) == (5, ListingStatus.open)
    assert act(seller, second, "accept").status_code == 302


def test_instant_acceptance_reserves_at_once_and_refuses_what_does_not_fit(app, db, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=3, price_per_unit=800)
    seller = signed_in(app, supplier)
    assert (
        seller.post(f"/listings/{listing_id}/order-terms", data={"instant_accept": "1"}).status_code
        == 302
    )
    assert "checked" in seller.get(f"/listings/{listing_id}").get_data(as_text=True)
    buyer = signed_in(app, contractor)
    statuses = [
        buyer.post(f"/listings/{listing_id}/orders/new", data={"quantity": "1"}).status_code
        for _ in range(5)
    ]
    assert statuses == [302, 302, 302, 409, 409]
    orders = db(lambda s: s.scalars(select(Order).order_by(Order.id)).all())
    assert [o.status for o in orders] == [OrderStatus.accepted] * 3
    assert listing_row(db, listing_id).open_quantity == 0


def test_dispute_needs_a_reason_and_resolving_returns_to_where_it_was(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id, quantity="1")
    for client, action in ((seller, "accept"), (seller, "issue_invoice"), (seller, "mark_paid")):
        assert act(client, order_id, action).status_code == 302
    response = act(buyer, order_id, "dispute")
    assert response.status_code == 422 and "Say what is wrong" in response.get_data(as_text=True)
    assert act(buyer, order_id, "dispute", note="wrong soil class").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.disputed
    assert act(seller, order_id, "resolve").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.paid


def test_zero_total_orders_skip_the_invoice(app, db, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=10, price_per_unit=0)
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id, quantity="2")
    act(seller, order_id, "accept")
    assert act(seller, order_id, "issue_invoice").status_code == 302
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid and order.current_payment is None


def test_api_request_order_with_token(app, db, client, trade):
    from market.accounts.models import User
    from market.accounts.services import issue_api_token

    supplier, contractor, listing_id = trade
    with app.test_request_context():
        session = app.extensions["meguri.db"].session()
        _token, secret = issue_api_token(session, session.get(User, contractor.id), "ci")
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    # Amounts are the listing's: a client that sends its own is told so, not ignored.
    priced = client.post(
        "/api/v1/orders",
        json={"listing_id": listing_id, "quantity": 4, "total_yen": 1, "unit_price_yen": 1},
        headers=headers,
    )
    assert priced.status_code == 422
    assert set(priced.get_json()["errors"]) == {"total_yen", "unit_price_yen"}
    assert db(lambda s: s.scalar(select(func.count()).select_from(Order))) == 0
    response = client.post(
        "/api/v1/orders", json={"listing_id": listing_id, "quantity": 4}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["unit_price_yen"] == 800 and body["money"]["total_yen"] == 3520
    bad = client.post(
        "/api/v1/orders", json={"listing_id": listing_id, "quantity": "x"}, headers=headers
    )
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"quantity"}
    assert (
        client.post("/api/v1/orders", json={"listing_id": listing_id, "quantity": 1}).status_code
        == 401
    )
    assert client.get(f"/api/v1/orders/{body['id']}", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/orders/{body['id']}/actions/accept", headers=headers, json={})
    assert refused.status_code == 403 and "error" in refused.get_json()


def test_webhook_route_without_card_payments_is_not_found(client, db):
    response = client.post(
        "/payments/stripe/webhook", data=b"{}", headers={"Stripe-Signature": "t=1,v1=x"}
    )
    assert response.status_code == 404
    assert db(lambda s: s.scalar(select(OrderPayment))) is None


def test_money_is_integer_yen(app, db, trade):
    supplier, contractor, listing_id = trade
    buyer = signed_in(app, contractor)
    order_id = request_quantity(buyer, listing_id, quantity="1.255")
    order = order_row(db, order_id)
    assert order.quantity == Decimal("1.255")
    page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "¥1,004" in page  # 1.255 × 800 = 1,004 exactly; tax ¥100 truncated once
    assert "¥1,104" in page


@pytest.mark.parametrize(
    "listing_id", [2**31, 2**63, 10**19, 25692503807258805027917072692236176530, True, 1.0, "1"]
)
def test_api_order_ids_must_be_whole_numbers_in_range(app, db, client, trade, listing_id):
    """Out-of-range ids used to reach the database (500); a boolean, a float or a numeric text
    placed an order on listing 1. Each is refused naming the field, and nothing is created."""
    from market.accounts.models import User
    from market.accounts.services import issue_api_token

    _supplier, contractor, real_id = trade
    if listing_id in (True, 1.0, "1"):
        assert real_id == 1  # the trade's listing is the one a loose parse would pick
    with app.test_request_context():
        session = app.extensions["meguri.db"].session()
        _token, secret = issue_api_token(session, session.get(User, contractor.id), "ci")
        session.commit()
    response = client.post(
        "/api/v1/orders",
        json={"listing_id": listing_id, "quantity": 1},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"listing_id"}
    assert db(lambda s: s.scalar(select(func.count()).select_from(Order))) == 0
