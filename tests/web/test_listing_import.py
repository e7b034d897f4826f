"""Import and export of listings through the API, as a contractor's program meets it: a
sheet of 1,000 sites in one go, re-imports that update instead of duplicating, exports
that import back unchanged, every error by row and column, all rows or none, CSV in
UTF-8 (with or without BOM) or Shift_JIS, and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from test_catalog import (  # noqa: F401
    ORG_FOR,
    api_headers,
    fast_passwords,
    listing_data,
    snapshot,
)

from market.catalog.models import Listing, ListingStatus
from market.db import japan_today

JA = ["管理番号", "種類", "タイトル", "緯度", "経度", "都道府県", "市区町村コード", "住所"]
EN = ["Your reference", "Kind", "Title", "Latitude", "Longitude", "Prefecture"]


@pytest.fixture
def api(client, factory, login):
    """A signed-in member of an organisation of ``org_kind`` and their token header."""

    def make(org_kind: str = "contractor"):
        member = factory.user(org_kind)
        login(member)
        return member, api_headers(client)

    return make


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Listing))


def sites(n: int, start: int = 1) -> list[list[object]]:
    """A contractor's sheet of ``n`` 搬出 sites, with Japanese headers."""
    today = japan_today()
    header = [
        "管理番号",
        "種類",
        "タイトル",
        "緯度",
        "経度",
        "都道府県",
        "市区町村コード",
        "住所",
        "受渡期間（開始日）",
        "受渡期間（終了日）",
        "数量",
        "単価（円）",
        "ステータス",
        "土質区分",
        "コーン指数 qc（kN/m²）",
        "土壌汚染調査",
        "最大運搬距離（km）",
    ]
    rows = [header]
    for i in range(start, start + n):
        rows.append(
            [
                f"SITE-{i:04d}",
                "soil_offer",
                f"江東区 現場{i} 発生土",
                35.6 + i / 100_000,
                139.8 + i / 100_000,
                "13",
                "131083",
                f"東京都江東区豊洲{i % 6 + 1}丁目",
                today,
                today + dt.timedelta(days=60 + i % 30),
                100 + i,
                -1500,
                "open",
                "2b",
                900,
                "not_required",
                40,
            ]
        )
    return rows


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [[v.isoformat() if isinstance(v, dt.date) else v for v in row] for row in rows]
    )
    return out.getvalue()


def upload(client, headers, content: bytes, name: str = "sites.xlsx", dry_run=None):
    data = {"file": (io.BytesIO(content), name)}
    if dry_run is not None:
        data["dry_run"] = dry_run
    return client.post(
        "/api/v1/listings/import",
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )


def export(client, headers, fmt: str = "csv", **args) -> bytes:
    response = client.get(
        "/api/v1/listings/export", query_string={"format": fmt, **args}, headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.data


def test_a_contractors_sheet_of_1000_sites_imports_reimports_and_round_trips(client, api, db):
    _member, headers = api()
    sheet = sites(1000)

    preview = upload(client, headers, xlsx(sheet), dry_run="true")
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {"created": 1000, "updated": 0, "unchanged": 0, "errors": []}
    assert count(db) == 0  # a dry run writes nothing

    done = upload(client, headers, xlsx(sheet))
    assert done.get_json() == {"created": 1000, "updated": 0, "unchanged": 0, "errors": []}
    assert count(db) == 1000
    site = db.scalar(select(Listing).where(Listing.external_id == "SITE-0042"))
    assert site.title == "江東区 現場42 発生土" and site.quantity == 142
    assert site.soil_class_code == "2b" and site.price_per_unit == -1500

    # The same sheet again, one volume changed: an update, no duplicates.
    sheet[42][10] = 500
    again = upload(client, headers, xlsx(sheet)).get_json()
    assert again == {"created": 0, "updated": 1, "unchanged": 999, "errors": []}
    assert count(db) == 1000
    db.expire_all()
    assert db.get(Listing, site.id).quantity == 500

    # Exported, the file imports back unchanged, and exports to the very same bytes.
    first = export(client, headers, "csv")
    assert upload(client, headers, first, "listings.csv").get_json()["unchanged"] == 1000
    assert export(client, headers, "csv") == first
    book = export(client, headers, "xlsx")
    assert upload(client, headers, book, "listings.xlsx").get_json() == {
        "created": 0,
        "updated": 0,
        "unchanged": 1000,
        "errors": [],
    }
    assert export(client, headers, "csv") == first and count(db) == 1000


def test_every_error_is_named_by_row_and_column_and_nothing_is_written(client, api, db):
    _member, headers = api()
    sheet = sites(5)
    sheet[2][3] = "北緯35度"  # row 3: latitude not a number
    sheet[2][13] = "9z"  # row 3: no such soil class
    sheet[4][10] = ""  # row 5: quantity missing
    sheet[5][0] = "SITE-0001"  # row 6: the same reference as row 2
    response = upload(client, headers, csv_text(sheet).encode(), "sites.csv")
    assert response.status_code == 422
    body = response.get_json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 0)
    found = {(e["row"], e["column"]) for e in body["errors"]}
    assert found == {(3, "緯度"), (3, "土質区分"), (5, "数量"), (6, "管理番号")}
    assert all(e["message"] for e in body["errors"])
    assert count(db) == 0  # the good rows are not written either

    dry = upload(client, headers, csv_text(sheet).encode(), "sites.csv", dry_run="1").get_json()
    assert dry["created"] == 2 and len(dry["errors"]) == 4  # what the good rows would do


def test_unknown_columns_and_a_missing_kind_are_named_in_the_header(client, api, db):
    _member, headers = api()
    sheet = [["タイトル", "色", "数量"], ["現場", "茶", "10"]]
    body = upload(client, headers, csv_text(sheet).encode(), "x.csv").get_json()
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(1, "色"), (1, "種類")}


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "cp932"], ids=["utf8", "utf8-bom", "shift_jis"]
)
def test_csv_in_utf8_with_or_without_bom_or_shift_jis(client, api, db, encoding):
    _member, headers = api()
    # As Excel in Japan saves it: what Shift_JIS lacks (the ² of kN/m²) becomes "?".
    content = csv_text(sites(3)).encode(encoding, "replace")
    assert upload(client, headers, content, "sites.csv").get_json()["created"] == 3
    titles = set(db.scalars(select(Listing.title)))
    assert titles == {"江東区 現場1 発生土", "江東区 現場2 発生土", "江東区 現場3 発生土"}


def test_english_headers_and_slashed_dates_are_accepted(client, api, db):
    _member, headers = api()
    sheet = sites(2)
    en = [
        "Your reference",
        "Kind",
        "Title",
        "Latitude",
        "Longitude",
        "Prefecture",
        "Municipality code",
        "Address",
        "Available from",
        "Available until",
        "Quantity",
        "Price per unit (yen)",
        "Status",
        "Soil class",
        "Cone index qc (kN/m²)",
        "Contamination check",
        "Maximum haul distance (km)",
    ]
    english = client.get("/api/v1/listings/export?headers=en", headers=headers).data
    assert set(en) <= set(english.decode("utf-8-sig").split("\r\n")[0].split(","))
    rows = [en] + [
        [c.strftime("%Y/%m/%d") if isinstance(c, dt.date) else c for c in r] for r in sheet[1:]
    ]
    rows[1][5] = "東京都"  # a prefecture by name instead of its code
    rows[2][13] = "第2b種"  # a soil class by name
    body = upload(client, headers, csv_text(rows).encode(), "sites.csv").get_json()
    assert body["created"] == 2, body
    assert set(db.scalars(select(Listing.prefecture_code))) == {"13"}
    assert set(db.scalars(select(Listing.soil_class_code))) == {"2b"}
    assert set(db.scalars(select(Listing.window_start))) == {japan_today()}


@pytest.mark.parametrize(
    "kind",
    [
        "soil_offer",
        "soil_want",
        "material_offer",
        "material_want",
        "reuse_item",
        "reuse_want",
        "recycled_offer",
        "recycled_want",
        "stockyard",
    ],
)
def test_every_kind_exports_and_imports_back_unchanged(client, api, factory, db, kind):
    member, headers = api(ORG_FOR.get(kind, "contractor"))
    listing_id = factory.listing(member, kind, private_note="社内メモ")
    before = snapshot(db, listing_id)
    for fmt in ("csv", "xlsx"):
        body = upload(client, headers, export(client, headers, fmt), f"x.{fmt}").get_json()
        assert body == {"created": 0, "updated": 0, "unchanged": 1, "errors": []}, (fmt, body)
    assert snapshot(db, listing_id) == before

    # The exported file with its id and reference removed creates a copy of the listing.
    rows = list(csv.reader(io.StringIO(export(client, headers).decode("utf-8-sig"))))
    rows[1][0] = ""
    assert upload(client, headers, csv_text(rows).encode(), "x.csv").get_json()["created"] == 1
    copy = db.scalar(select(Listing).where(Listing.id != listing_id))
    same = {
        k: v
        for k, v in snapshot(db, copy.id).items()
        if k not in {"id", "created_at", "updated_at"}
    }
    assert same == {k: v for k, v in before.items() if k not in {"id", "created_at", "updated_at"}}


def test_a_failure_while_writing_leaves_nothing_half_written(client, api, factory, db):
    member, headers = api()
    closed = factory.listing(member, "soil_offer")
    client.post(f"/api/v1/listings/{closed}/close", headers=headers)
    rows = list(csv.reader(io.StringIO(export(client, headers).decode("utf-8-sig"))))
    new = list(rows[1])
    new[0] = ""  # no id: a new listing, written before the closed one is reached
    new[rows[0].index("ステータス")] = "open"
    rows.insert(1, new)
    rows[2][rows[0].index("タイトル")] = "閉じた後の変更"
    body = upload(client, headers, csv_text(rows).encode(), "x.csv").get_json()
    assert [(e["row"], e["message"]) for e in body["errors"]] == [
        (3, "終了した掲載は変更できません。")
    ]
    assert count(db) == 1 and db.get(Listing, closed).status == ListingStatus.closed


def test_only_the_callers_listings_are_exported_and_updated(client, api, factory, db):
    other = factory.user()
    theirs = factory.listing(other, "soil_offer", title="他社の現場")
    _member, headers = api()
    assert export(client, headers).decode("utf-8-sig").count("\r\n") == 1  # the header only
    rows = [["Meguri ID", "Title"], [str(theirs), "乗っ取り"]]
    body = upload(client, headers, csv_text(rows).encode(), "x.csv").get_json()
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(2, "Meguri ID")]
    assert db.get(Listing, theirs).title == "他社の現場"


def test_import_and_export_need_a_token_and_a_file(client, api):
    assert client.get("/api/v1/listings/export").status_code == 401
    assert upload(client, {}, b"x").status_code == 401
    _member, headers = api()
    response = client.post(
        "/api/v1/listings/import",
        headers=headers,
        data={"dry_run": "true"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "file" in response.get_json()["errors"]
    not_a_file = client.post(
        "/api/v1/listings/import",
        headers=headers,
        data={"file": "a,b"},
        content_type="multipart/form-data",
    )
    assert not_a_file.status_code == 422 and "file" in not_a_file.get_json()["errors"]
    bad = client.get("/api/v1/listings/export?format=pdf", headers=headers)
    assert bad.status_code == 400 and "format" in bad.get_json()["errors"]
    for junk, name in [(b"\x00\xff\xfe\x81" * 10, "x.csv"), (b"PK\x03\x04broken", "x.xlsx")]:
        garbage = upload(client, headers, junk, name)
        assert garbage.status_code == 422 and garbage.get_json()["errors"][0]["row"] == 0
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:  # a zip, but no workbook in it
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData><row>")
    broken = upload(client, headers, zipped.getvalue(), "x.xlsx")
    assert broken.status_code == 422 and broken.get_json()["errors"][0]["row"] == 0


def test_the_xlsx_export_keeps_text_that_looks_like_a_formula_as_text(client, api, factory, db):
    member, headers = api()
    factory.listing(member, "soil_offer", title='=HYPERLINK("http://x")')
    sheet = load_workbook(io.BytesIO(export(client, headers, "xlsx"))).active
    title = [c.value for c in sheet[2]][sheet[1][3].column - 1]
    assert [c.value for c in sheet[1]][3] == "タイトル"
    assert title == '=HYPERLINK("http://x")' and sheet.cell(2, 4).data_type == "s"


@pytest.mark.commits  # another request commits while this one is open, then this one fails
def test_a_reference_taken_meanwhile_fails_the_whole_file_cleanly(
    app, client, api, factory, db, monkeypatch
):
    """Two imports of the same new reference at once: the second to write is refused as a
    whole (a unique key per organisation), with an error instead of a 500."""
    from market.accounts.models import User
    from market.catalog import imports, services, validation
    from market.catalog.models import ListingKind

    if db.bind.dialect.name == "sqlite":
        pytest.skip("SQLite: the request holds the one write lock, so no one can race it here")
    member, headers = api()
    checked = imports._Checker.check

    def take_reference(session):
        user = session.get(User, member.id)
        clean = validation.validate(session, ListingKind.soil_offer, listing_data())
        clean.update(external_id="SITE-0002", title="先に登録")
        services.create_listing(session, user, ListingKind.soil_offer, clean)

    def check_then_race(self):
        plans = checked(self)
        other = app.extensions["meguri.db"].new_session()  # another request's, committed
        try:
            take_reference(other)
            other.commit()
        finally:
            other.close()
        return plans

    monkeypatch.setattr(imports._Checker, "check", check_then_race)
    response = upload(client, headers, csv_text(sites(3)).encode(), "sites.csv")
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "external_id" and error["row"] == 2
    assert set(db.scalars(select(Listing.title))) == {"先に登録"}
