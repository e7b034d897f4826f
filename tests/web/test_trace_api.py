"""The read-only tickets API as a party's program meets it: a token is needed, only
organisations involved in the order see a ticket, void tickets are listed and marked,
amendments show, bad query parameters are named, and the OpenAPI document describes
exactly what the server answers."""

from __future__ import annotations

import pytest

from market.trace.models import TicketStatus, TransferTicket
from tests.web.test_api import undocumented, validate
from tests.web.test_catalog import api_headers
from tests.web.test_orders import Reader, signed_in
from tests.web.test_trace import issue, paid_order, proposal_order, ticket_id_from, token_of
from tests.web.test_trace_void import REASON, void


@pytest.fixture
def db(app):
    return Reader(app)


def test_parties_read_tickets_as_they_stand_and_void_ones_are_marked(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="50")
    site = str(factory.listing(contractor, "soil_want", title="受入地 B"))
    first = ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))
    assert (
        buyer.post(
            f"/t/{token_of(db, first)}",
            data={"quantity_received": "9.5", "discrepancy_note": "荷こぼれ"},
        ).status_code
        == 302
    )
    assert (
        buyer.post(
            f"/trace/orders/{order_id}/receipts", data={"destination_manager": "所長"}
        ).status_code
        == 302
    )
    second = ticket_id_from(issue(seller, order_id, quantity="5", destination_listing_id=site))
    assert (
        seller.post(
            f"/trace/amend/ticket/{second}",
            data={"field": "driver_name", "new_value": "佐藤 二郎", "reason": "記入誤り"},
        ).status_code
        == 302
    )
    assert void(seller, second).status_code == 302
    third = ticket_id_from(issue(seller, order_id, quantity="5", destination_listing_id=site))
    seller_api, buyer_api = api_headers(seller), api_headers(buyer)
    doc = seller.get("/api/v1/openapi.json").get_json()

    listed = seller.get(f"/api/v1/orders/{order_id}/tickets", headers=seller_api)
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [(t["code"], t["status"]) for t in items] == [
        (f"T{order_id:05d}-001", "confirmed"),
        (f"T{order_id:05d}-002", "void"),
        (f"T{order_id:05d}-003", "issued"),
    ]
    for item in items:
        assert validate(doc, {"$ref": "#/components/schemas/Ticket"}, item) == [], item["code"]
    received, voided, on_the_way = items
    assert (
        received["received"]["quantity"] == "9.500"
        and received["received"]["discrepancy_note"] == "荷こぼれ"
    )
    assert received["received"]["receipt_number"].startswith("R") and received["void"] is None
    assert (
        voided["void"]["reason"] == REASON
        and voided["void"]["by_organisation"]["id"] == supplier.org_id
    )
    assert voided["received"] is None and voided["quantity"] == "5.000"
    assert (
        voided["driver_name"] == "佐藤 二郎" and voided["amendments"][0]["old_value"] == "佐藤 一郎"
    )
    assert on_the_way["received"] is None and on_the_way["void"] is None
    assert "token" not in on_the_way  # the QR link is not handed out here

    detail = buyer.get(
        f"/api/v1/tickets/{second}", headers=buyer_api
    )  # the receiving side reads it too
    assert detail.status_code == 200 and detail.get_json() == voided
    only_void = seller.get(
        f"/api/v1/orders/{order_id}/tickets?status=void", headers=seller_api
    ).get_json()
    assert [t["id"] for t in only_void["items"]] == [second]

    mine = buyer.get("/api/v1/tickets?per_page=2", headers=buyer_api).get_json()
    assert (mine["total"], mine["page"], mine["per_page"]) == (3, 1, 2)
    assert [t["id"] for t in mine["items"]] == [third, second]  # newest first
    assert [
        t["id"]
        for t in buyer.get("/api/v1/tickets?page=2&per_page=2", headers=buyer_api).get_json()[
            "items"
        ]
    ] == [first]
    issued = buyer.get("/api/v1/tickets?status=issued", headers=buyer_api).get_json()
    assert [t["id"] for t in issued["items"]] == [third] and issued["total"] == 1


def test_tickets_api_needs_a_token_and_involvement_and_names_bad_parameters(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="50")
    site = str(factory.listing(contractor, "soil_want"))
    ticket_id = ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))
    client = app.test_client()
    for url in (
        "/api/v1/tickets",
        f"/api/v1/tickets/{ticket_id}",
        f"/api/v1/orders/{order_id}/tickets",
    ):
        response = client.get(url)
        assert response.status_code == 401 and response.is_json, url
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401

    stranger = signed_in(app, factory.user())
    stranger_api = api_headers(stranger)
    for url in (
        f"/api/v1/tickets/{ticket_id}",
        f"/api/v1/orders/{order_id}/tickets",
        "/api/v1/tickets/999999",
        f"/api/v1/tickets/{10**12}",
    ):
        response = stranger.get(url, headers=stranger_api)
        assert response.status_code == 404 and response.is_json, url
    assert stranger.get("/api/v1/tickets", headers=stranger_api).get_json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 50,
    }

    seller_api = api_headers(seller)
    for query, field in [
        ("status=lost", "status"),
        ("page=0", "page"),
        ("per_page=201", "per_page"),
        ("per_page=x", "per_page"),
        ("page=-1", "page"),
    ]:
        response = seller.get(f"/api/v1/tickets?{query}", headers=seller_api)
        assert response.status_code == 400 and field in response.get_json()["errors"], query
    bad = seller.get(f"/api/v1/orders/{order_id}/tickets?status=gone", headers=seller_api)
    assert bad.status_code == 400 and "status" in bad.get_json()["errors"]


def test_a_stockyard_reads_the_loads_sent_to_it(app, db, factory):
    seller, buyer, yard_client, order_id, yard, operator = proposal_order(app, factory)
    ticket_id = ticket_id_from(
        issue(seller, order_id, quantity="30", destination_listing_id=str(yard))
    )
    listed = yard_client.get("/api/v1/tickets", headers=api_headers(yard_client)).get_json()
    [item] = listed["items"]
    assert item["id"] == ticket_id and item["transit"] is True
    assert item["destination"]["stockyard_registration_no"] == "SY-13-0001"
    assert item["destination"]["receiving_organisation"]["id"] == operator.org_id
    assert item["status"] == TicketStatus.issued.value
    assert (
        db(lambda s: s.get(TransferTicket, ticket_id).status) == TicketStatus.issued
    )  # reading changed nothing


def test_openapi_documents_every_ticket_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("trace_api.")]
    assert len(routes) == 3
    assert undocumented(doc, routes) == []
