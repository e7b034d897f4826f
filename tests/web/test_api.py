"""The JSON API as a client program meets it: tokens, list/read/create/update/close,
errors that name fields, other organisations refused, and an OpenAPI document that
describes what the server really accepts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from test_catalog import (  # noqa: F401
    KINDS,
    ORG_FOR,
    api_headers,
    fast_passwords,
    listing_data,
    snapshot,
)

from market.accounts.models import ApiToken
from market.catalog.models import Listing, ListingStatus
from market.db import japan_today


@pytest.fixture(autouse=True)
def english(client):
    client.post("/lang/en", data={"next": "/"})


@pytest.fixture
def member_api(client, factory, login):
    """A signed-in contractor and the Authorization header of a token they issued."""

    def make(org_kind: str = "contractor"):
        member = factory.user(org_kind)
        login(member)
        return member, api_headers(client)

    return make


def body(kind: str = "soil_offer", **changes) -> dict:
    return {**listing_data(kind), "kind": kind, **changes}


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Listing))


# --- tokens ------------------------------------------------------------------------


def test_token_is_shown_once_and_only_its_hash_is_stored(client, factory, login, db):
    login(factory.user())
    page = client.post("/account/tokens", data={"name": "在庫システム"}).get_data(as_text=True)
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    token = db.scalar(select(ApiToken))
    assert token.name == "在庫システム" and secret not in token.token_hash
    assert secret not in client.get("/account/tokens").get_data(as_text=True)


def test_token_name_is_required(client, factory, login, db):
    login(factory.user())
    page = client.post("/account/tokens", data={"name": ""}).get_data(as_text=True)
    assert 'id="name-error"' in page and db.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_write_routes_need_a_valid_token(app, factory, db):
    listing_id = factory.listing(factory.user())
    client = app.test_client()  # no session cookie: only the header counts
    before = snapshot(db, listing_id)
    for header in [None, "Bearer", "Bearer mgr_wrong", "Basic dXNlcjpwdw==", "mgr_no_scheme"]:
        headers = {"Authorization": header} if header else {}
        for method, url, payload in [
            ("POST", "/api/v1/listings", body()),
            ("PATCH", f"/api/v1/listings/{listing_id}", {"title": "x"}),
            ("PUT", f"/api/v1/listings/{listing_id}", body(title="x")),
            ("POST", f"/api/v1/listings/{listing_id}/close", None),
        ]:
            response = client.open(url, method=method, json=payload, headers=headers)
            assert response.status_code == 401, (header, method, url)
            assert response.get_json()["error"]
    assert count(db) == 1 and snapshot(db, listing_id) == before


def test_revoked_token_stops_working(client, member_api, db):
    _member, headers = member_api()
    assert client.post("/api/v1/listings", json=body(), headers=headers).status_code == 201
    token_id = db.scalar(select(ApiToken.id))
    client.post(f"/account/tokens/{token_id}/revoke")
    assert client.post("/api/v1/listings", json=body(), headers=headers).status_code == 401
    assert (
        client.get("/api/v1/listings", headers=headers).status_code == 401
    )  # a bad token is never ignored
    assert count(db) == 1


# --- the happy path ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_read_each_kind(kind, client, member_api, db):
    member, headers = member_api(ORG_FOR.get(kind, "contractor"))
    sent = body(kind, private_note="社内メモ")

    response = client.post("/api/v1/listings", json=sent, headers=headers)

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/listings/{created['id']}")
    assert created["organisation"]["id"] == member.org_id and created["status"] == "open"
    for name, value in sent.items():
        if name != "status":
            assert created[name] == value, name
    read = client.get(f"/api/v1/listings/{created['id']}", headers=headers).get_json()
    assert read == created


def test_list_filters_and_pages(client, member_api, factory):
    _member, headers = member_api()
    other = factory.user()
    for n in range(3):
        factory.listing(other, "soil_offer", title=f"公開 {n}")
    factory.listing(other, "material_offer", title="資材")
    factory.listing(other, "soil_offer", title="下書き", status="draft")

    everything = client.get("/api/v1/listings").get_json()
    assert everything["total"] == 4 and "下書き" not in {i["title"] for i in everything["items"]}
    soil = client.get("/api/v1/listings?kind=soil_offer&per_page=2&page=2").get_json()
    assert soil["total"] == 3 and soil["page"] == 2 and len(soil["items"]) == 1
    assert client.get("/api/v1/listings?q=資材").get_json()["total"] == 1
    assert client.get("/api/v1/listings?mine=true", headers=headers).get_json()["total"] == 0


def test_bad_list_query_names_the_parameter(client):
    for query, field in [
        ("kind=spaceship", "kind"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=abc", "per_page"),
        ("per_page=500", "per_page"),
        ("mine=true", "mine"),
    ]:
        response = client.get(f"/api/v1/listings?{query}")
        assert response.status_code == 400, query
        assert field in response.get_json()["errors"], query


def test_own_drafts_are_listed_with_mine_and_readable_only_by_the_owner(
    client, member_api, factory
):
    member, headers = member_api()
    draft = client.post("/api/v1/listings", json=body(status="draft"), headers=headers).get_json()
    mine = client.get("/api/v1/listings?mine=true", headers=headers).get_json()
    assert [i["id"] for i in mine["items"]] == [draft["id"]]
    assert client.get(f"/api/v1/listings/{draft['id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/listings/{draft['id']}").status_code == 404
    client.post("/logout")
    _other, other_headers = member_api()
    assert client.get(f"/api/v1/listings/{draft['id']}", headers=other_headers).status_code == 404


def test_patch_changes_only_the_given_fields(client, member_api, db):
    _member, headers = member_api()
    created = client.post("/api/v1/listings", json=body(), headers=headers).get_json()

    response = client.patch(
        f"/api/v1/listings/{created['id']}",
        json={"price_per_unit": -900, "quantity": 50.5},
        headers=headers,
    )

    assert response.status_code == 200, response.get_json()
    updated = response.get_json()
    assert (
        updated["price_per_unit"] == -900
        and updated["quantity"] == 50.5
        and updated["open_quantity"] == 50.5
    )
    assert (
        updated["title"] == created["title"]
        and updated["soil_class_code"] == created["soil_class_code"]
    )


def test_put_replaces_the_listing_and_needs_every_required_field(client, member_api, db):
    _member, headers = member_api()
    created = client.post("/api/v1/listings", json=body(), headers=headers).get_json()
    url = f"/api/v1/listings/{created['id']}"
    assert (
        client.put(url, json=body(title="全面更新", max_haul_km=None), headers=headers).status_code
        == 200
    )
    assert snapshot(db, created["id"])["title"] == "全面更新"
    response = client.put(
        url, json={"kind": "soil_offer", "title": "only a title"}, headers=headers
    )
    assert response.status_code == 422 and "quantity" in response.get_json()["errors"]


def test_close_and_then_no_more_changes(client, member_api, db):
    _member, headers = member_api()
    created = client.post("/api/v1/listings", json=body(), headers=headers).get_json()
    url = f"/api/v1/listings/{created['id']}"

    closed = client.post(f"{url}/close", headers=headers)

    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    refused = client.patch(url, json={"title": "reopened?"}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]
    assert snapshot(db, created["id"])["status"] == ListingStatus.closed


# --- bad input -------------------------------------------------------------------------

TODAY = japan_today()
INVALID = [
    ({"title": ""}, ["title"]),
    ({"title": None, "lat": 99}, ["title", "lat"]),
    ({"lat": "NaN"}, ["lat"]),
    ({"quantity": float("inf")}, ["quantity"]),
    ({"quantity": "1e999"}, ["quantity"]),
    ({"quantity": 10**400}, ["quantity"]),
    ({"price_per_unit": 12.5}, ["price_per_unit"]),
    ({"price_per_unit": True}, ["price_per_unit"]),
    ({"window_end": (TODAY - dt.timedelta(days=3)).isoformat()}, ["window_end"]),
    ({"window_start": 20250101}, ["window_start"]),
    ({"soil_class_code": ["2b"]}, ["soil_class_code"]),
    ({"soil_class_code": "9z"}, ["soil_class_code"]),
    ({"colour": "brown"}, ["colour"]),
    ({"organisation_id": 1}, ["organisation_id"]),
    ({"open_quantity": 5}, ["open_quantity"]),
    ({"id": 7, "created_by_id": 1}, ["id", "created_by_id"]),
    ({"status": "reserved"}, ["status"]),
    ({"description": {"nested": "object"}}, ["description"]),
    ({"title": "a\x00b"}, ["title"]),
    ({"title": "lone \ud800 surrogate"}, ["title"]),
    ({"description": "x" * 5001}, ["description"]),
]


def test_invalid_create_is_422_naming_each_field(client, member_api, db):
    _member, headers = member_api()
    wrong = []
    for changes, fields in INVALID:
        response = client.post(
            "/api/v1/listings",
            data=_json(body(**changes)),
            headers=headers,
            content_type="application/json",
        )
        named = sorted((response.get_json() or {}).get("errors", {}))
        if response.status_code != 422 or named != sorted(fields):
            wrong.append((changes, response.status_code, named))
    assert wrong == []
    assert count(db) == 0


def _json(value) -> str:
    """JSON as a careless client might write it (Python's NaN/Infinity, huge integers)."""
    import json

    return json.dumps(value, allow_nan=True)


def test_body_that_is_not_a_json_object_is_400(client, member_api, db):
    _member, headers = member_api()
    for payload in [
        "not json",
        "[1, 2]",
        '"text"',
        "null",
        "{bad json",
        "[" * 100_000,
        b"\xff\xfe",
    ]:
        response = client.post(
            "/api/v1/listings", data=payload, headers=headers, content_type="application/json"
        )
        assert response.status_code == 400 and response.get_json()["error"], payload
    assert count(db) == 0


def test_missing_or_unknown_kind_names_the_kind_field(client, member_api, db):
    _member, headers = member_api()
    for kind in [None, "spaceship", 5, ["soil_offer"], {"k": 1}]:
        response = client.post("/api/v1/listings", json=body() | {"kind": kind}, headers=headers)
        assert response.status_code in (400, 422) and "kind" in response.get_json()["errors"], kind
    assert count(db) == 0


def test_invalid_patch_changes_nothing(client, member_api, db):
    _member, headers = member_api()
    created = client.post("/api/v1/listings", json=body(), headers=headers).get_json()
    before = snapshot(db, created["id"])
    url = f"/api/v1/listings/{created['id']}"
    for payload, field in [
        ({"title": "ok", "window_end": "2000-01-01"}, "window_end"),
        ({"organisation_id": 999}, "organisation_id"),
        ({"open_quantity": 1}, "open_quantity"),
        ({"kind": "stockyard"}, "kind"),
        ({"quantity": -1}, "quantity"),
    ]:
        response = client.patch(url, json=payload, headers=headers)
        assert response.status_code == 422 and field in response.get_json()["errors"], payload
    assert snapshot(db, created["id"]) == before


def test_patch_of_material_checks_the_existing_grade(client, member_api, db):
    _member, headers = member_api("recycler")
    created = client.post(
        "/api/v1/listings", json=body("recycled_offer"), headers=headers
    ).get_json()
    response = client.patch(
        f"/api/v1/listings/{created['id']}", json={"material_code": "scrap_steel"}, headers=headers
    )
    assert response.status_code == 422 and "grade_code" in response.get_json()["errors"]


def test_organisation_type_that_may_not_create_a_kind_gets_403(client, member_api, db):
    _member, headers = member_api("contractor")
    response = client.post("/api/v1/listings", json=body("stockyard"), headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]
    assert count(db) == 0


def test_other_organisations_listing_is_read_only(client, member_api, factory, db):
    listing_id = factory.listing(factory.user(), "soil_offer")
    _member, headers = member_api()
    before = snapshot(db, listing_id)
    url = f"/api/v1/listings/{listing_id}"
    assert client.get(url, headers=headers).status_code == 200
    assert client.patch(url, json={"title": "mine now"}, headers=headers).status_code in (403, 404)
    assert client.put(url, json=body(title="mine now"), headers=headers).status_code in (403, 404)
    assert client.post(f"{url}/close", headers=headers).status_code in (403, 404)
    assert snapshot(db, listing_id) == before


def test_unknown_api_paths_answer_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json
    response = client.delete("/api/v1/listings/1")
    assert response.status_code == 405 and response.is_json


# --- the OpenAPI document ------------------------------------------------------------


def test_openapi_document_is_well_formed(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert {"title", "version"} <= set(doc["info"])
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        for name in re.findall(r"{(\w+)}", path):
            params = item.get("parameters", []) + [
                p for op in _operations(item).values() for p in op.get("parameters", [])
            ]
            assert any(
                p.get("name") == name and p.get("in") == "path" and p.get("required")
                for p in params
            )
        for method, operation in _operations(item).items():
            assert operation.get("responses"), (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d|default", status), (path, method, status)
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(doc["components"]["securitySchemes"])
    for ref in _refs(doc):
        assert _resolve(doc, ref) is not None, ref


def undocumented(doc: dict, rules) -> list[str]:
    """The "METHOD /path" of each route among ``rules`` that the OpenAPI document lacks."""
    documented = {
        (re.sub(r"{\w+}", "{}", path), method.upper())
        for path, item in doc["paths"].items()
        for method in _operations(item)
    }
    return [
        f"{method} {rule.rule}"
        for rule in rules
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        if (re.sub(r"<(?:\w+:)?\w+>", "{}", rule.rule), method) not in documented
    ]


def test_openapi_documents_every_listing_route(app, client):
    # Listing routes here; other areas (orders, tickets, notifications) test their own.
    doc = client.get("/api/v1/openapi.json").get_json()
    assert (
        undocumented(
            doc, [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/listings")]
        )
        == []
    )


def test_each_kinds_example_body_matches_its_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for kind in KINDS:
        schema = {"$ref": f"#/components/schemas/{kind}"}
        assert validate(doc, schema, body(kind)) == [], kind
        assert validate(doc, {"$ref": "#/components/schemas/NewListing"}, body(kind)) == [], kind
        # The schema is not a rubber stamp: what the server refuses, it refuses too.
        assert validate(doc, schema, body(kind, colour="brown"))
        assert validate(doc, schema, {k: v for k, v in body(kind).items() if k != "title"})
        assert validate(doc, schema, body(kind, price_per_unit="cheap"))


def test_bodies_the_schema_accepts_are_accepted_by_the_server(client, factory, login):
    doc = client.get("/api/v1/openapi.json").get_json()
    headers = {}
    for org_kind in {*ORG_FOR.values(), "contractor"}:
        client.post("/logout")
        login(factory.user(org_kind))
        headers[org_kind] = api_headers(client)
    for kind in KINDS:
        # Only required fields, optional ones left out or null: both are allowed by the schema.
        schema = doc["components"]["schemas"][kind]
        minimal = {k: v for k, v in body(kind).items() if k in schema["required"]}
        with_nulls = {
            **minimal,
            **{
                k: None
                for k, s in schema["properties"].items()
                if k not in schema["required"] and "anyOf" in s
            },
        }
        for payload in (minimal, with_nulls):
            assert validate(doc, {"$ref": f"#/components/schemas/{kind}"}, payload) == [], kind
            response = client.post(
                "/api/v1/listings", json=payload, headers=headers[ORG_FOR.get(kind, "contractor")]
            )
            assert response.status_code == 201, (kind, response.get_json())


def validate(doc: dict, schema: dict, value, where: str = "$") -> list[str]:
    """What is wrong with ``value`` against ``schema`` (its $refs resolved in ``doc``), as a
    JSON Schema 2020-12 validator sees it (jsonschema comes with schemathesis)."""
    jsonschema = pytest.importorskip("jsonschema")
    root = {**schema, "components": doc["components"]}
    checker = jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{where}.{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in checker.iter_errors(value)
    ]


def _operations(item: dict) -> dict:
    return {
        m: op
        for m, op in item.items()
        if m in {"get", "put", "post", "delete", "patch", "head", "options"}
    }


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(doc: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def test_a_weekly_rate_over_the_quantity_is_named_and_a_yards_holding_price_is_kept(
    client, member_api
):
    _member, headers = member_api()
    response = client.post(
        "/api/v1/listings", json=body(weekly_rate=5000, quantity=1200), headers=headers
    )
    assert response.status_code == 422
    assert "weekly_rate" in str(response.get_json())
    response = client.post("/api/v1/listings", json=body(weekly_rate=150), headers=headers)
    assert response.status_code == 201 and response.get_json()["weekly_rate"] == 150
    client.post("/logout")
    _yard_member, headers = member_api("stockyard_operator")
    response = client.post(
        "/api/v1/listings", json=body("stockyard", holding_price_per_week=25), headers=headers
    )
    assert response.status_code == 201 and response.get_json()["holding_price_per_week"] == 25
