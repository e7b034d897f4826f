"""Notifications for programs: the same notes the bell shows, newest first, unread only on
request, marked read by id or all at once; bad arguments are named; the OpenAPI document
describes exactly what the server answers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from market import create_app
from market.notifications.models import Notification
from tests.conftest import in_session
from tests.web.test_api import undocumented, validate
from tests.web.test_catalog import api_headers
from tests.web.test_orders import act, request_quantity, signed_in


def test_a_program_reads_and_marks_its_notifications(app, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    order_id = request_quantity(buyer, listing_id)
    act(seller, order_id, "accept")
    act(seller, order_id, "issue_invoice")
    headers = api_headers(buyer)
    doc = buyer.get("/api/v1/openapi.json").get_json()

    listed = buyer.get("/api/v1/notifications", headers=headers)
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["total"] == 2 and [n["order_id"] for n in body["items"]] == [order_id, order_id]
    first, second = body["items"]
    assert first["id"] > second["id"] and first["read_at"] is None  # newest first
    assert first["url"].endswith(f"/orders/{order_id}") and first["created_at"].endswith("Z")
    for item in body["items"]:
        assert validate(doc, {"$ref": "#/components/schemas/Notification"}, item) == []

    marked = buyer.post("/api/v1/notifications/read", json={"ids": [second["id"]]}, headers=headers)
    assert marked.get_json() == {"marked": 1}
    unread = buyer.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert [n["id"] for n in unread["items"]] == [first["id"]]
    # Someone else's notification id is not theirs to mark.
    theirs = seller.get("/api/v1/notifications", headers=api_headers(seller)).get_json()["items"]
    assert buyer.post(
        "/api/v1/notifications/read", json={"ids": [n["id"] for n in theirs]}, headers=headers
    ).get_json() == {"marked": 0}
    assert buyer.post("/api/v1/notifications/read", json={}, headers=headers).get_json() == {
        "marked": 1
    }
    assert buyer.get("/api/v1/notifications?unread=true", headers=headers).get_json()["total"] == 0


def test_bad_arguments_are_named(app, factory):
    headers = api_headers(signed_in(app, factory.user()))
    client = app.test_client()
    assert client.get("/api/v1/notifications").status_code == 401
    for query, field in (
        ("unread=maybe", "unread"),
        ("page=0", "page"),
        ("per_page=500", "per_page"),
    ):
        response = client.get(f"/api/v1/notifications?{query}", headers=headers)
        assert response.status_code == 400 and field in response.get_json()["errors"], query
    for body in (
        {"ids": "all"},
        {"ids": [1, "2"]},
        {"ids": [True]},
        {"ids": list(range(1001))},
        {"ids": [2**63]},
        {"ids": [0]},
        {"ids": None},
        {"idz": [1]},
    ):  # out of the id column's range, or not ids at all: named (ids.1 is the second), never a 500
        response = client.post("/api/v1/notifications/read", json=body, headers=headers)
        named = response.get_json()["errors"]
        assert response.status_code == 422, body  # a body field is wrong
        assert any(key.split(".")[0] in {"ids", "idz"} for key in named), (body, named)
    assert client.post("/api/v1/notifications/read", data="x", headers=headers).status_code == 400


def test_openapi_documents_every_notification_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes = [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/notifications")
    ]
    assert len(routes) == 2
    assert undocumented(doc, routes) == []


@pytest.mark.commits  # threads race on connections of their own
def test_programs_marking_at_once_count_each_note_once(app, database_url, factory, tmp_path):
    """Eight requests served by four app instances (as by several workers) mark the same 40
    notes read at the same moment: together they report 40 marked, each note once, never
    a note counted by two of them (reading then writing each row counted 160 for 40)."""
    if app.extensions["meguri.db"].is_sqlite:
        pytest.skip("a race between connections: PostgreSQL (SQLite runs one writer at a time)")
    member = factory.user()
    # A token per request: a shared token row (its last-used time is written on every
    # request) would queue the requests one behind the other and hide the race.
    client = signed_in(app, member)
    tokens = [api_headers(client) for _ in range(8)]
    in_session(
        app,
        lambda s: s.add_all(
            Notification(user_id=member.id, message=f"note {i}") for i in range(40)
        ),
    )
    others = [
        create_app(
            {**app.config, "DATABASE_URL": database_url, "INSTANCE_DIR": str(tmp_path / f"i{n}")}
        )
        for n in range(3)
    ]
    instances = [app, *others]
    start = threading.Barrier(len(tokens), timeout=30)
    answers: list[tuple[int, dict]] = []

    def mark(instance, headers):
        program = instance.test_client()
        start.wait()
        response = program.post("/api/v1/notifications/read", json={}, headers=headers)
        answers.append((response.status_code, response.get_json()))

    threads = [
        threading.Thread(target=mark, args=(instances[n % len(instances)], headers))
        for n, headers in enumerate(tokens)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for other in others:
            other.extensions["meguri.db"].dispose()
    assert [status for status, _ in answers] == [200] * len(tokens), answers
    assert sum(body["marked"] for _, body in answers) == 40, answers
    unread = in_session(
        app,
        lambda s: s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == member.id, Notification.read_at.is_(None))
        ),
        commit=False,
    )
    assert unread == 0
