"""Listing pages as a member meets them: create each kind, field errors, edit, close,
browse and map filters, drafts and private notes, and who may change what."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import re
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from market.catalog.models import Listing, ListingPhoto, ListingStatus
from market.db import japan_today


def _shared_conftest():
    # Several conftest.py files exist, so ``import conftest`` may find another one.
    name = "meguri_tests_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


listing_data = _shared_conftest().listing_data


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Cheap password hashes: these tests sign many users in; hashing is tested elsewhere."""
    from werkzeug.security import generate_password_hash

    from market.accounts import services

    monkeypatch.setattr(
        services,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )


KINDS = [
    "soil_offer",
    "soil_want",
    "material_offer",
    "material_want",
    "reuse_item",
    "reuse_want",
    "recycled_offer",
    "recycled_want",
    "stockyard",
]
# Kinds only one organisation type may create; the rest are open to any.
ORG_FOR = {
    "reuse_item": "municipality",
    "reuse_want": "reuse_operator",
    "recycled_offer": "recycler",
    "stockyard": "stockyard_operator",
}


def form_from(data: dict) -> dict:
    """The HTML form a browser sends for ``data`` (the JSON shape ``listing_data`` gives)."""
    form: dict[str, object] = {}
    for name, value in data.items():
        if isinstance(value, bool):
            if value:
                form[name] = "1"  # an unticked checkbox is simply absent
        elif isinstance(value, list):
            form[name] = [str(v) for v in value]
        elif isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(inner, dict):
                    for side, bound in inner.items():
                        form[f"{name}.{key}.{side}"] = str(bound)
                else:
                    form[f"{name}.{key}"] = str(inner)
        else:
            form[name] = str(value)
    return form


def count_listings(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Listing))


def snapshot(db, listing_id: int) -> dict:
    """Every column of a listing, to prove a refused request changed nothing."""
    db.expire_all()
    listing = db.get(Listing, listing_id)
    return {c.key: getattr(listing, c.key) for c in Listing.__table__.columns}


# --- create ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_member_creates_each_kind_through_the_form(kind, client, factory, login, db):
    member = factory.user(ORG_FOR.get(kind, "contractor"))
    login(member)
    assert client.get(f"/listings/new/{kind}").status_code == 200
    data = {**listing_data(kind), "title": f"New {kind}", "private_note": "our margin"}

    response = client.post(f"/listings/new/{kind}", data=form_from(data))

    assert response.status_code == 302, response.get_data(as_text=True)
    listing = db.scalar(select(Listing).where(Listing.title == f"New {kind}"))
    assert response.headers["Location"].endswith(f"/listings/{listing.id}")
    assert listing.kind.value == kind and listing.organisation_id == member.org_id
    assert listing.status == ListingStatus.open
    assert listing.price_per_unit == data["price_per_unit"]
    assert float(listing.quantity) == float(listing.open_quantity) == data["quantity"]
    for name in (
        "accepted_classes",
        "category_prices",
        "properties",
        "property_limits",
        "grade_code",
        "reuse_category_code",
        "soil_class_code",
        "material_category_code",
        "blend_allowed",
    ):
        if name in data:
            assert getattr(listing, name) == data[name], name
    page = client.get(f"/listings/{listing.id}")
    assert page.status_code == 200 and f"New {kind}" in page.get_data(as_text=True)


def test_negative_price_is_kept_and_shown_as_a_payment(client, factory, login, db):
    login(factory.user())
    response = client.post(
        "/listings/new/soil_offer", data=form_from({**listing_data(), "price_per_unit": -2500})
    )
    assert response.status_code == 302
    listing = db.scalar(select(Listing))
    assert listing.price_per_unit == -2500
    assert "-¥2,500" in client.get(f"/listings/{listing.id}").get_data(as_text=True)


def test_organisation_type_that_may_not_create_a_kind_gets_403(client, factory, login, db):
    login(factory.user("contractor"))
    choose = client.get("/listings/new").get_data(as_text=True)
    for kind in sorted(ORG_FOR):
        assert client.get(f"/listings/new/{kind}").status_code == 403, kind
        assert (
            client.post(f"/listings/new/{kind}", data=form_from(listing_data(kind))).status_code
            == 403
        ), kind
        assert f"/listings/new/{kind}" not in choose
    assert count_listings(db) == 0


def test_anonymous_user_is_sent_to_sign_in(client, db):
    response = client.post("/listings/new/soil_offer", data=form_from(listing_data()))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_listings(db) == 0


def test_unknown_kind_is_404(client, factory, login):
    login(factory.user())
    assert client.get("/listings/new/spaceship").status_code == 404
    assert client.post("/listings/new/spaceship", data={}).status_code == 404


# --- field errors -----------------------------------------------------------------

TODAY = japan_today()
BAD_INPUT = [
    ("soil_offer", {"title": ""}, "title"),
    ("soil_offer", {"title": "x" * 201}, "title"),
    ("soil_offer", {"window_end": (TODAY - dt.timedelta(days=1)).isoformat()}, "window_end"),
    ("soil_offer", {"window_start": "2025-02-30"}, "window_start"),
    ("recycled_offer", {"grade_code": "HS"}, "grade_code"),  # a scrap-steel grade on road base
    ("recycled_want", {"min_grade_code": "cardboard"}, "min_grade_code"),
    ("soil_offer", {"soil_class_code": "9z"}, "soil_class_code"),
    ("soil_want", {"accepted_classes": ["2a", "9z"]}, "accepted_classes"),
    ("soil_offer", {"lat": 91}, "lat"),
    ("soil_offer", {"lat": 10.5}, "lat"),  # a valid latitude, but not Japan
    ("soil_offer", {"lon": "NaN"}, "lon"),
    ("soil_offer", {"quantity": "NaN"}, "quantity"),
    ("soil_offer", {"quantity": "inf"}, "quantity"),
    ("soil_offer", {"quantity": "0"}, "quantity"),
    ("soil_offer", {"price_per_unit": "12.5"}, "price_per_unit"),
    ("soil_offer", {"price_per_unit": "9" * 40}, "price_per_unit"),
    ("soil_offer", {"prefecture_code": "99"}, "prefecture_code"),
    ("soil_offer", {"municipality_code": "abc"}, "municipality_code"),
    ("soil_offer", {"status": "closed"}, "status"),
    ("soil_offer", {"cone_index": "hard"}, "cone_index"),
    ("reuse_want", {"category_prices": {"chair": "-5"}}, "category_prices"),
    ("reuse_want", {"category_prices": {"chair": "9" * 400}}, "category_prices"),
    (
        "recycled_want",
        {"property_limits": {"absorption": {"min": "9", "max": "1"}}},
        "property_limits",
    ),
    ("stockyard", {"accepted_classes": []}, "accepted_classes"),
    ("soil_offer", {"title": "bad\x00byte"}, "title"),
    ("recycled_offer", {"grade_code": "RC-40\x00"}, "grade_code"),
]


def test_bad_input_names_the_field_and_creates_nothing(client, factory, login, db):
    members, signed_in = {}, None
    wrong = []
    for kind, change, field in BAD_INPUT:
        org_kind = ORG_FOR.get(kind, "contractor")
        if org_kind != signed_in:
            if org_kind not in members:
                members[org_kind] = factory.user(org_kind)
            client.post("/logout")
            login(members[org_kind])
            signed_in = org_kind

        response = client.post(
            f"/listings/new/{kind}", data=form_from({**listing_data(kind), **change})
        )

        page = response.get_data(as_text=True)
        marked = re.findall(r'class="field-error" id="([\w.]+)-error"', page)
        if response.status_code != 400 or marked != [field]:  # only the bad field is marked
            wrong.append((kind, change, response.status_code, marked))
    assert wrong == []
    assert count_listings(db) == 0


def test_several_errors_are_reported_at_once(client, factory, login, db):
    login(factory.user())
    data = {**listing_data(), "title": "", "lat": "north", "soil_class_code": ""}
    page = client.post("/listings/new/soil_offer", data=form_from(data)).get_data(as_text=True)
    for field in ("title", "lat", "soil_class_code"):
        assert f'id="{field}-error"' in page
    assert count_listings(db) == 0


def test_error_page_keeps_what_the_user_typed(client, factory, login):
    login(factory.user())
    data = {**listing_data(), "title": "", "description": "残土 500m³ 掘削中"}
    page = client.post("/listings/new/soil_offer", data=form_from(data)).get_data(as_text=True)
    assert "残土 500m³ 掘削中" in page


def test_field_messages_follow_the_users_language(client, factory, login):
    login(factory.user())
    client.post("/lang/en", data={"next": "/"})
    page = client.post(
        "/listings/new/soil_offer", data=form_from({**listing_data(), "title": ""})
    ).get_data(as_text=True)
    assert "this field is required" in page


# --- edit and close -----------------------------------------------------------------


def test_owner_edits_a_listing(client, factory, login, db):
    member = factory.user()
    listing_id = factory.listing(member, "soil_offer")
    login(member)
    form_page = client.get(f"/listings/{listing_id}/edit").get_data(as_text=True)
    assert "江東区 発生土" in form_page

    data = {**listing_data(), "title": "更新済み", "quantity": 800, "soil_class_code": "3a"}
    response = client.post(f"/listings/{listing_id}/edit", data=form_from(data))

    assert response.status_code == 302
    after = snapshot(db, listing_id)
    assert after["title"] == "更新済み" and after["soil_class_code"] == "3a"
    assert float(after["quantity"]) == float(after["open_quantity"]) == 800


def test_edit_with_bad_input_changes_nothing(client, factory, login, db):
    member = factory.user()
    listing_id = factory.listing(member, "soil_offer")
    before = snapshot(db, listing_id)
    login(member)
    data = {**listing_data(), "title": "changed", "lat": "999"}
    response = client.post(f"/listings/{listing_id}/edit", data=form_from(data))
    assert response.status_code == 400 and 'id="lat-error"' in response.get_data(as_text=True)
    assert snapshot(db, listing_id) == before


def test_owner_closes_a_listing_and_it_leaves_browse(client, factory, login, db):
    member = factory.user()
    listing_id = factory.listing(member, "soil_offer", title="閉じる予定")
    login(member)
    assert "閉じる予定" in client.get("/listings").get_data(as_text=True)

    assert client.post(f"/listings/{listing_id}/close").status_code == 302

    assert snapshot(db, listing_id)["status"] == ListingStatus.closed
    assert "閉じる予定" not in client.get("/listings").get_data(as_text=True)
    # A closed listing cannot be edited any more; the user is told why.
    response = client.post(
        f"/listings/{listing_id}/edit", data=form_from({**listing_data(), "title": "again"})
    )
    assert response.status_code in (400, 409)
    assert snapshot(db, listing_id)["title"] == "閉じる予定"


# --- browse, filters and the map ------------------------------------------------------


@pytest.fixture
def catalogue(factory):
    """A small catalogue with listings that differ in one filterable way each."""
    contractor = factory.user()
    recycler = factory.user("recycler")
    ids = {
        "tokyo_2b": factory.listing(
            contractor, "soil_offer", title="東京 第2b種 残土", price_per_unit=-1500
        ),
        "osaka_3a": factory.listing(
            contractor,
            "soil_offer",
            title="大阪 第3a種 残土",
            prefecture_code="27",
            lat=34.69,
            lon=135.50,
            soil_class_code="3a",
            price_per_unit=200,
        ),
        "timber": factory.listing(
            contractor,
            "material_offer",
            title="杉 構造材 余剰",
            description="未使用の杉材",
            price_per_unit=500,
        ),
        "rc40": factory.listing(
            recycler, "recycled_offer", title="再生砕石 RC-40", price_per_unit=1200
        ),
        "draft": factory.listing(contractor, "soil_offer", title="下書き 残土", status="draft"),
    }
    return ids


def titles(client, query: str = "") -> str:
    response = client.get(f"/listings{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


BROWSE_CASES = [
    ("", {"tokyo_2b", "osaka_3a", "timber", "rc40"}),
    ("?kind=soil_offer", {"tokyo_2b", "osaka_3a"}),
    ("?kind=recycled_offer", {"rc40"}),
    ("?prefecture_code=27", {"osaka_3a"}),
    ("?soil_class_code=2b", {"tokyo_2b"}),
    ("?price_min=0&price_max=600", {"osaka_3a", "timber"}),
    ("?price_max=-1", {"tokyo_2b"}),
    ("?q=杉材", {"timber"}),
    ("?q=残土&kind=soil_offer&prefecture_code=13", {"tokyo_2b"}),
    ("?material_code=road_base", {"rc40"}),
]
TITLES = {
    "tokyo_2b": "東京 第2b種 残土",
    "osaka_3a": "大阪 第3a種 残土",
    "timber": "杉 構造材 余剰",
    "rc40": "再生砕石 RC-40",
    "draft": "下書き 残土",
}


def test_browse_filters(client, catalogue):
    # One catalogue, many queries: each case shows exactly the listings it should.
    for query, expected in BROWSE_CASES:
        page = titles(client, query)
        shown = {key for key, title in TITLES.items() if title in page}
        assert shown == expected, query


def test_map_points_follow_the_same_filters(client, catalogue):
    for query, expected in BROWSE_CASES:
        response = client.get(f"/listings/map.json{query}")
        assert response.status_code == 200
        points = response.get_json()["points"]
        assert {p["id"] for p in points} == {catalogue[k] for k in expected}, query
        for point in points:
            assert -90 <= point["lat"] <= 90 and -180 <= point["lon"] <= 180
            assert set(point) >= {"id", "kind", "title", "lat", "lon", "price", "unit"}


ODD_QUERIES = [
    "?page=abc",
    "?page=-3",
    "?page=99999999999999999999999",
    "?price_min=abc&price_max=",
    "?price_min=99999999999999999999999",
    "?price_max=-99999999999999999999999",
    "?price_min=3000000000",
    "?available_on=2025-13-45",
    "?kind=spaceship&family=unknown",
    "?q=%25_%25",
    "?q=%00",
    "?prefecture_code=" + "9" * 300,
    "?soil_class_code=%00",
]


def test_odd_browse_queries_never_fail(client, catalogue):
    for query in ODD_QUERIES:
        assert client.get(f"/listings{query}").status_code == 200, query
        assert client.get(f"/listings/map.json{query}").status_code == 200, query
    # Out-of-range numbers still filter sensibly instead of failing.
    assert (
        client.get("/listings/map.json?price_min=99999999999999999999999").get_json()["points"]
        == []
    )
    assert (
        len(client.get("/listings/map.json?price_max=99999999999999999999999").get_json()["points"])
        == 4
    )


# --- visibility: drafts and private notes -------------------------------------------


def test_draft_is_seen_only_by_its_organisation(app, client, factory, login):
    owner, other = factory.user(), factory.user()
    listing_id = factory.listing(owner, "soil_offer", title="秘密の下書き", status="draft")

    assert client.get(f"/listings/{listing_id}").status_code == 404  # anonymous
    assert "秘密の下書き" not in titles(client)
    assert listing_id not in {
        p["id"] for p in client.get("/listings/map.json").get_json()["points"]
    }

    login(other)
    assert client.get(f"/listings/{listing_id}").status_code == 404
    assert "秘密の下書き" not in titles(client)
    client.post("/logout")

    login(owner)
    assert client.get(f"/listings/{listing_id}").status_code == 200
    assert "秘密の下書き" in client.get("/my/listings").get_data(as_text=True)


def test_private_note_is_never_shown_to_others(app, client, factory, login):
    owner, other = factory.user(), factory.user()
    listing_id = factory.listing(owner, "soil_offer", private_note="原価 800円/m³")

    def sees_note(c, headers=None) -> list[bool]:
        html = c.get(f"/listings/{listing_id}").get_data(as_text=True)
        api_one = c.get(f"/api/v1/listings/{listing_id}", headers=headers or {}).get_json()
        api_all = c.get("/api/v1/listings", headers=headers or {}).get_json()["items"]
        return [
            "原価 800円/m³" in html,
            "private_note" in api_one,
            any("private_note" in item for item in api_all),
        ]

    assert sees_note(client) == [False, False, False]
    login(other)
    assert sees_note(client, api_headers(client)) == [False, False, False]
    client.post("/logout")
    login(owner)
    assert sees_note(client, api_headers(client)) == [True, True, True]


def api_headers(client) -> dict:
    """Issue an API token for the signed-in user through the tokens page."""
    page = client.post("/account/tokens", data={"name": "test"}).get_data(as_text=True)
    secret = page.split('<code id="new-token">', 1)[1].split("</code>", 1)[0]
    return {"Authorization": f"Bearer {secret}"}


# --- every write route refuses another organisation -----------------------------------


def jpeg_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def foreign_listing(client, factory, login, db, request):
    """Another organisation's listing (with a photo), and a signed-in outsider."""
    owner = factory.user()
    listing_id = factory.listing(owner, "soil_offer", status=request.param)
    login(owner)
    form = form_from({**listing_data(), "status": request.param})
    form["photos"] = (io.BytesIO(jpeg_bytes()), "site.jpg")
    assert (
        client.post(
            f"/listings/{listing_id}/edit", data=form, content_type="multipart/form-data"
        ).status_code
        == 302
    )
    client.post("/logout")
    login(factory.user())
    headers = api_headers(client)
    photo_id = db.scalar(select(ListingPhoto.id).where(ListingPhoto.listing_id == listing_id))
    return listing_id, photo_id, headers


WRITE_ROUTES = [
    ("GET", "/listings/{id}/edit", None),
    ("POST", "/listings/{id}/edit", "form"),
    ("POST", "/listings/{id}/close", None),
    ("POST", "/listings/{id}/photos/{photo}/delete", None),
    ("PATCH", "/api/v1/listings/{id}", "json"),
    ("PUT", "/api/v1/listings/{id}", "json"),
    ("POST", "/api/v1/listings/{id}/close", None),
]


@pytest.mark.parametrize("foreign_listing", ["open", "draft"], indirect=True)
def test_other_organisation_cannot_change_a_listing(foreign_listing, client, db):
    listing_id, photo_id, headers = foreign_listing
    before = snapshot(db, listing_id)
    expected = (404,) if before["status"] == ListingStatus.draft else (403, 404)
    for method, path, body in WRITE_ROUTES:
        url = path.format(id=listing_id, photo=photo_id)
        kwargs: dict = {}
        if body == "form":
            kwargs["data"] = form_from({**listing_data(), "title": "hijacked"})
        elif body == "json":
            kwargs["json"] = {**listing_data(), "kind": "soil_offer", "title": "hijacked"}
        if url.startswith("/api/"):
            kwargs["headers"] = headers

        response = client.open(url, method=method, **kwargs)

        assert response.status_code in expected, (method, url, response.status_code)
        assert snapshot(db, listing_id) == before, (method, url)
        db.expire_all()
        assert db.get(ListingPhoto, photo_id) is not None, (method, url)


def test_missing_listing_ids_are_404_not_errors(client, factory, login):
    login(factory.user())
    for big in ("3000000000", "99999999999999999999999"):  # past 32-bit and past 64-bit integers
        for url in (
            "/listings/0",
            f"/listings/{big}",
            f"/listings/{big}/edit",
            f"/api/v1/listings/{big}",
        ):
            assert client.get(url).status_code == 404, url
        assert client.post(f"/listings/{big}/close").status_code == 404
        assert client.post(f"/listings/1/photos/{big}/delete").status_code == 404
