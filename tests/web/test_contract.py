"""The API contract as another area uses it (market/api/contract.py): an operation declared
on a view parses its query, JSON or multipart body, refuses what breaks it naming each field,
and appears in the OpenAPI document exactly as declared."""

from __future__ import annotations

import io
from typing import Annotated

import pytest
from flask import Blueprint
from pydantic import Field

from market.api.contract import Answer, Body, Id, Query, Upload, answer, operation


class Tally(Query):
    colour: Annotated[str, Field(max_length=10)] | None = None
    tags: list[str] = []
    limit: Annotated[int, Field(ge=1, le=5)] = 2


class Order(Body):
    listing_id: Id
    note: str = ""


class Import(Body):
    file: Upload
    dry_run: bool = False


class Tallied(Answer):
    colour: str | None
    tags: list[str]
    limit: int


class Ordered(Answer):
    thing_id: int
    listing_id: int
    note: str


class Received(Answer):
    name: str
    size: int
    dry_run: bool


@pytest.fixture
def contract_client(app):
    """The app with three declared operations of a test area added before any request."""
    bp = Blueprint("contract_test", __name__, url_prefix="/api/v1/contract-test")

    @bp.get("/tally")
    @operation("Count", query=Tally, ok=(200, Tallied))
    def tally(query: Tally):
        return answer(Tallied, query.model_dump())

    @bp.post("/orders/<int:thing_id>")
    @operation("Order", body=Order, ok=(201, Ordered), errors=(401, 404, 422, 429))
    def order(thing_id: int, body: Order):
        return answer(Ordered, {"thing_id": thing_id, **body.model_dump()}, 201)

    @bp.post("/import")
    @operation(
        "Import a file",
        body=Import,
        body_media="multipart/form-data",
        ok=(200, Received),
        errors=(400, 401, 422, 429),
    )
    def upload(body: Import):
        received = {
            "name": body.file.filename,
            "size": len(body.file.read()),
            "dry_run": body.dry_run,
        }
        return answer(Received, received)

    app.register_blueprint(bp)
    from market import csrf

    csrf.exempt(bp)
    return app.test_client()


def test_a_query_is_parsed_as_declared_and_refused_naming_the_argument(contract_client):
    ok = contract_client.get("/api/v1/contract-test/tally?colour=red&tags=a&tags=b&limit=3")
    assert ok.status_code == 200
    assert ok.get_json() == {"colour": "red", "tags": ["a", "b"], "limit": 3}
    for query, field in (
        ("limit=9", "limit"),
        ("limit=1.5", "limit"),
        ("limit=1&limit=2", "limit"),
        ("shade=blue", "shade"),
        ("colour=" + "x" * 11, "colour"),
    ):
        response = contract_client.get(f"/api/v1/contract-test/tally?{query}")
        assert response.status_code == 400, query
        assert field in response.get_json()["errors"], (query, response.get_json())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"listing_id": True}, "listing_id"),
        ({"listing_id": 1.9}, "listing_id"),
        ({"listing_id": "1"}, "listing_id"),
        ({"listing_id": 2**31}, "listing_id"),
        ({"listing_id": 2**63}, "listing_id"),
        ({"listing_id": 10**19}, "listing_id"),
        ({"listing_id": 1, "colour": "red"}, "colour"),
        ({}, "listing_id"),
    ],
)
def test_a_json_body_is_strict(contract_client, body, field):
    response = contract_client.post("/api/v1/contract-test/orders/1", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_json_body_that_keeps_the_contract_reaches_the_view(contract_client):
    response = contract_client.post("/api/v1/contract-test/orders/7", json={"listing_id": 3})
    assert response.status_code == 201
    assert response.get_json() == {"thing_id": 7, "listing_id": 3, "note": ""}
    not_an_object = contract_client.post("/api/v1/contract-test/orders/7", data="[1]")
    assert not_an_object.status_code == 400 and "body" in not_an_object.get_json()["errors"]


def test_a_multipart_upload_is_declared_the_same_way(contract_client):
    response = contract_client.post(
        "/api/v1/contract-test/import",
        data={"file": (io.BytesIO(b"a,b\n1,2\n"), "sites.csv"), "dry_run": "true"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"name": "sites.csv", "size": 8, "dry_run": True}
    missing = contract_client.post(
        "/api/v1/contract-test/import", data={"dry_run": "true"}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422 and "file" in missing.get_json()["errors"]


def test_the_document_shows_each_operation_as_declared(contract_client):
    doc = contract_client.get("/api/v1/openapi.json").get_json()
    tally = doc["paths"]["/api/v1/contract-test/tally"]["get"]
    params = {p["name"]: p for p in tally["parameters"]}
    assert set(params) == {"colour", "tags", "limit"}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
        "default": 2,
    }
    assert params["tags"]["explode"] is True
    order = doc["paths"]["/api/v1/contract-test/orders/{thing_id}"]
    assert order["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    body = doc["components"]["schemas"]["Order"]
    assert body["additionalProperties"] is False and body["required"] == ["listing_id"]
    assert set(order["post"]["responses"]) == {"201", "401", "404", "422", "429"}
    upload = doc["paths"]["/api/v1/contract-test/import"]["post"]["requestBody"]["content"]
    assert doc["components"]["schemas"]["Import"]["properties"]["file"]["format"] == "binary"
    assert "multipart/form-data" in upload
    assert doc["components"]["responses"]["429"]["description"]


def test_every_api_operation_documents_its_refusals(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            statuses = set(op["responses"])
            if {"token": []} in op.get("security", []):
                assert {"401", "429"} <= statuses, (method, path)
            if "requestBody" in op:
                assert "422" in statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)


def test_a_recycled_want_with_an_empty_material_code_is_outside_the_schema(client):
    from tests.web.test_api import validate

    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["components"]["schemas"]["recycled_want"]
    assert schema["properties"]["material_code"]["minLength"] == 1
    from tests.conftest import listing_data

    body = {**listing_data("recycled_want"), "kind": "recycled_want"}
    assert validate(doc, schema, body) == []
    assert validate(doc, schema, {**body, "material_code": ""})
