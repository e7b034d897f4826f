"""Listing photos as a user meets them: location data removed, turned upright, a thumbnail
made; files that are too big, not images, damaged or pixel bombs refused with a message."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from test_catalog import fast_passwords, form_from, listing_data  # noqa: F401 - fixture

from market.catalog.models import Listing, ListingPhoto

GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture
def uploads(app, tmp_path) -> Path:
    """Photos go to a directory of the test's choosing (MEGURI_UPLOAD_DIR)."""
    folder = tmp_path / "photo-store"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def phone_photo() -> bytes:
    """A 64×32 JPEG as a phone held upright saves it: orientation 6 and a GPS position.
    Left half red, right half blue, so the rotation can be checked."""
    image = Image.new("RGB", (64, 32), (220, 0, 0))
    image.paste((0, 0, 220), (32, 0, 64, 32))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (35.0, 40.0, 22.5), 3: "E", 4: (139.0, 49.0, 1.5)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    data = out.getvalue()
    assert b"Exif" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), (
        "fixture has GPS"
    )
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims ``width × height`` 1-bit pixels (a pixel bomb:
    a few hundred bytes that would need gigabytes once decoded)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * min(height, 64), 9)  # deliberately short: only the header matters
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.fixture(autouse=True)
def english(client):
    client.post("/lang/en", data={"next": "/"})  # messages below are matched in English


def post_listing(client, *files: tuple[bytes, str]):
    form = form_from({**listing_data(), "title": "写真つき"})
    form["photos"] = [(io.BytesIO(data), name) for data, name in files]
    return client.post("/listings/new/soil_offer", data=form, content_type="multipart/form-data")


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_photo_loses_all_metadata_is_turned_upright_and_gets_a_thumbnail(
    app, client, factory, login, db, uploads
):
    login(factory.user())

    response = post_listing(client, (phone_photo(), "IMG_0001.JPG"))

    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    photo = db.scalar(select(ListingPhoto))
    full = uploads / "full" / f"{photo.stored_name}.jpg"
    thumb = uploads / "thumb" / f"{photo.stored_name}.jpg"
    assert full.is_file() and thumb.is_file()
    assert photo.has_thumbnail  # the (inline) job ran after commit

    for path in (full, thumb):
        data = path.read_bytes()
        assert b"Exif" not in data and b"GPS" not in data and b"PhoneMaker" not in data
        with Image.open(path) as stored:
            assert dict(stored.getexif()) == {}
            assert not stored.info.get("exif") and not stored.info.get("icc_profile")

    with Image.open(full) as stored:
        assert stored.size == (32, 64)  # width and height swapped: upright
        top, bottom = (
            stored.convert("RGB").getpixel((16, 8)),
            stored.convert("RGB").getpixel((16, 56)),
        )
        assert (
            top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]
        )  # rotated clockwise, not mirrored
    assert (photo.width, photo.height) == (32, 64)

    # What a visitor downloads is the cleaned file.
    for size, path in (("full", full), ("thumb", thumb)):
        served = client.get(f"/photos/{size}/{photo.stored_name}.jpg")
        assert served.status_code == 200 and served.data == path.read_bytes()
        served.close()
    detail = client.get(f"/listings/{photo.listing_id}").get_data(as_text=True)
    assert f"/photos/thumb/{photo.stored_name}.jpg" in detail


def test_png_with_transparency_is_stored_as_jpeg(client, factory, login, db, uploads):
    login(factory.user())
    out = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 128, 0, 0)).save(out, "PNG")
    assert post_listing(client, (out.getvalue(), "logo.png")).status_code == 302
    photo = db.scalar(select(ListingPhoto))
    with Image.open(uploads / "full" / f"{photo.stored_name}.jpg") as stored:
        assert stored.format == "JPEG" and stored.size == (20, 10)


def too_big(app) -> bytes:
    app.config["MAX_UPLOAD_BYTES"] = 2000
    out = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(out, "JPEG", quality=95)
    assert 2000 < len(out.getvalue()) < 4 * 2000
    return out.getvalue()


def truncated(_app) -> bytes:
    return phone_photo()[:-400]


REFUSED = [
    ("too big", too_big, "site.jpg", "larger than"),
    (
        "not an image",
        lambda _app: "これは写真ではありません\n".encode() * 20,
        "site.jpg",
        "not an image",
    ),
    ("empty", lambda _app: b"", "site.jpg", "empty"),
    ("truncated", truncated, "site.jpg", "damaged"),
    (
        "pixel bomb over the limit",
        lambda _app: png_claiming(10_000, 10_000),
        "bomb.png",
        "too many pixels",
    ),
    ("huge pixel bomb", lambda _app: png_claiming(30_000, 30_000), "bomb.png", "too many pixels"),
    (
        "svg",
        lambda _app: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
        "x.svg",
        "not an image",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "filename", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_bad_upload_is_refused_with_a_message_and_nothing_is_kept(
    case, make, filename, message, app, client, factory, login, db, uploads
):
    login(factory.user())
    data = make(app)

    response = post_listing(client, (data, filename))

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="photos-error"' in page
    error = page.split('id="photos-error"', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert count(db, Listing) == 0 and count(db, ListingPhoto) == 0
    assert stored_files(uploads) == []


def test_one_bad_photo_among_good_ones_keeps_no_file(client, factory, login, db, uploads):
    login(factory.user())
    response = post_listing(client, (phone_photo(), "good.jpg"), (b"GIF89a broken", "bad.gif"))
    assert response.status_code == 400 and 'id="photos-error"' in response.get_data(as_text=True)
    assert count(db, ListingPhoto) == 0 and count(db, Listing) == 0
    assert stored_files(uploads) == []  # the good photo written first was removed on rollback


def test_upload_beyond_the_request_limit_is_refused_clearly(
    app, client, factory, login, db, uploads
):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    login(factory.user())
    response = post_listing(client, (phone_photo() * 3, "big.jpg"))
    assert response.status_code in (400, 413)
    assert "too large" in response.get_data(as_text=True)
    assert count(db, Listing) == 0 and stored_files(uploads) == []


def test_owner_deletes_a_photo(client, factory, login, db, uploads):
    login(factory.user())
    post_listing(client, (phone_photo(), "a.jpg"))
    photo = db.scalar(select(ListingPhoto))
    response = client.post(f"/listings/{photo.listing_id}/photos/{photo.id}/delete")
    assert response.status_code == 302
    assert count(db, ListingPhoto) == 0
    # The photo is gone for visitors too, not just from the listing.
    for size in ("full", "thumb"):
        assert client.get(f"/photos/{size}/{photo.stored_name}.jpg").status_code == 404
    assert stored_files(uploads) == []


def test_photo_urls_cannot_reach_other_files(client, uploads):
    for url in (
        "/photos/full/..%2F..%2Fsecret_key",
        "/photos/other/" + "a" * 32 + ".jpg",
        "/photos/full/" + "A" * 32 + ".jpg",
        "/photos/full/missing.jpg",
    ):
        assert client.get(url).status_code == 404, url
