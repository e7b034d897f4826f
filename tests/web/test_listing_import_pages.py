"""Import and export on the web, as a member meets them: from “My listings” to an upload,
a preview listing every row and every error by row and column, a confirmation, the
progress of a long file, in Japanese and in English."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select
from test_catalog import fast_passwords  # noqa: F401
from test_listing_import import csv_text, sites, xlsx

from market.catalog.models import Listing
from market.tasks import Job


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Listing))


def send(client, content: bytes, name: str = "sites.xlsx"):
    return client.post(
        "/my/listings/import",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_sheet_of_1000_sites_previews_then_imports_on_confirm(client, factory, login, db):
    login(factory.user())
    mine = text(client.get("/my/listings"))
    assert 'href="/my/listings/import"' in mine
    page = text(client.get("/my/listings/import"))
    assert "取り込み" in page and "管理番号" in page

    sent = send(client, xlsx(sites(1000)))
    assert sent.status_code == 302
    preview = text(client.get(sent.headers["Location"]))
    assert re.search(r"新規</dt><dd>1000<", preview), preview[:3000]
    assert "江東区 現場1 発生土" in preview and "江東区 現場500 発生土" in preview
    assert "江東区 現場501 発生土" not in preview  # the first 500 rows are listed
    assert count(db) == 0  # nothing until confirmed

    confirm = re.search(r'action="(/my/listings/import/\w+/confirm)"', preview).group(1)
    done = client.post(confirm)
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert "取り込みました" in page and count(db) == 1000
    # Confirmed twice (a double click): still 1,000 listings.
    assert client.post(confirm).headers["Location"] == done.headers["Location"]
    assert count(db) == 1000

    again = text(client.get(send(client, xlsx(sites(1000))).headers["Location"]))
    assert re.search(r"変更なし</dt><dd>1000<", again)


def test_errors_are_listed_by_row_and_column_and_cannot_be_confirmed(client, factory, login, db):
    login(factory.user())
    sheet = sites(3)
    sheet[1][13] = "9z"
    sheet[3][8] = "来週"
    sent = send(client, csv_text(sheet).encode("cp932", "replace"), "sites.csv")
    page = text(client.get(sent.headers["Location"]))
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", page)
    assert {(r, c) for r, c, _m in rows} == {("2", "土質区分"), ("4", "受渡期間（開始日）")}
    assert "何も保存していません" in page and "/confirm" not in page
    job_id = sent.headers["Location"].rsplit("/", 1)[1]
    refused = client.post(f"/my/listings/import/{job_id}/confirm")
    assert refused.headers["Location"].endswith("/my/listings/import") and count(db) == 0


def test_the_pages_speak_english_after_switching(client, factory, login):
    login(factory.user())
    client.post("/lang/en", data={"next": "/"})
    page = text(client.get("/my/listings/import"))
    assert "Import and export listings" in page and "Your reference" in page
    sheet = sites(2)
    sheet[1][3] = "north"
    result = text(client.get(send(client, csv_text(sheet).encode(), "x.csv").headers["Location"]))
    assert "Errors: 1. Nothing was saved." in result and "must be a number" in result


def test_a_long_import_shows_its_progress(app, client, factory, login, db):
    member = factory.user()
    login(member)
    job = Job(
        id="a" * 32,
        kind="listing_import",
        params={"user_id": member.id, "file": "b" * 32, "dry_run": True},
        status="running",
        stage="checking",
        progress=0.4,
    )
    db.add(job)
    db.commit()
    page = text(client.get(f"/my/listings/import/{job.id}"))
    assert 'id="run-progress"' in page and "40%" in page and "行を確認しています" in page
    assert client.get(f"/my/listings/import/{job.id}/progress.json").get_json() == {
        "status": "running",
        "stage": "行を確認しています",
        "progress": 0.4,
    }


def test_only_the_uploader_sees_an_import(client, factory, login):
    login(factory.user())
    sent = send(client, csv_text(sites(1)).encode(), "x.csv")
    client.post("/logout")
    login(factory.user())
    assert client.get(sent.headers["Location"]).status_code == 404
    assert client.post(sent.headers["Location"] + "/confirm").status_code == 404


def test_export_downloads_in_japanese_with_the_import_columns(client, factory, login):
    member = factory.user()
    factory.listing(member, "soil_offer")
    login(member)
    response = client.get("/my/listings/export.csv")
    header = response.data.decode("utf-8-sig").split("\r\n")[0].split(",")
    assert header[:4] == ["めぐりID", "管理番号", "種類", "タイトル"]
    assert client.get("/my/listings/export.xlsx").data.startswith(b"PK")


@pytest.mark.parametrize("content", [b"", b"\xd0\xcf\x11\xe0old"])
def test_no_file_or_an_old_xls_is_refused_plainly(client, factory, login, db, content):
    login(factory.user())
    response = send(client, content, "old.xls")
    if not content:
        assert response.status_code == 400
        assert "CSV または XLSX ファイルを選んでください。" in text(response)
        return
    page = text(client.get(response.headers["Location"]))
    assert ".xlsx または CSV" in page and count(db) == 0
