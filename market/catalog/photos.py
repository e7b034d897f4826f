"""Listing photos: check that an upload really is an image, refuse oversize files and
pixel bombs, apply EXIF orientation, strip every metadata block (GPS must never leak),
store a full-size JPEG now and a thumbnail through the job queue."""

from __future__ import annotations

import io
import uuid
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from market import tasks
from market.catalog.models import Listing, ListingPhoto
from market.db import after_commit, on_rollback
from market.errors import Invalid

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}
MAX_PHOTOS = 8


class PhotoRejected(Invalid):
    """A photo we will not store: a field error of the form's ``photos``."""

    def __init__(self, message: str):
        super().__init__({"photos": message}, status=400)


def clean_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Return an upright RGB image with no metadata, or raise PhotoRejected."""
    if len(data) > max_bytes:
        raise PhotoRejected(
            _("The photo is larger than %(mb)s MB.", mb=f"{max_bytes / 1_048_576:g}")
        )
    if not data:
        raise PhotoRejected(_("The file is empty."))
    with warnings.catch_warnings():
        # Pillow warns about large images; we decide ourselves from the header below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            fmt, (width, height) = probe.format, probe.size
            if fmt not in ACCEPTED_FORMATS:
                raise PhotoRejected(_("Upload a JPEG, PNG, WebP or GIF image."))
            if width * height > max_pixels or width <= 0 or height <= 0:
                raise PhotoRejected(
                    _(
                        "The image has too many pixels (%(w)s × %(h)s); the limit is %(n)s megapixels.",
                        w=width,
                        h=height,
                        n=f"{max_pixels / 1e6:g}",
                    )
                )
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
        except PhotoRejected:
            raise
        except Image.DecompressionBombError:
            # Pillow refuses headers far beyond its own limit before we see the size.
            raise PhotoRejected(
                _(
                    "The image has too many pixels; the limit is %(n)s megapixels.",
                    n=f"{max_pixels / 1e6:g}",
                )
            ) from None
        except UnidentifiedImageError:
            raise PhotoRejected(_("The file is not an image we can read.")) from None
        except (OSError, SyntaxError, ValueError):
            raise PhotoRejected(_("The image file is damaged or incomplete.")) from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    # A fresh image carries no EXIF, XMP, ICC or comment blocks.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    return clean


def encode_jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def photo_dir(kind: str) -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_photo(session: Session, listing: Listing, data: bytes) -> ListingPhoto:
    if len(listing.photos) >= MAX_PHOTOS:
        raise PhotoRejected(_("A listing can have at most %(n)s photos.", n=MAX_PHOTOS))
    image = clean_image(
        data,
        max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
        max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
    )
    encoded = encode_jpeg(image)
    name = uuid.uuid4().hex
    path = photo_dir("full") / f"{name}.jpg"
    path.write_bytes(encoded)
    on_rollback(session, lambda: path.unlink(missing_ok=True))
    photo = ListingPhoto(
        listing=listing,
        position=len(listing.photos),
        stored_name=name,
        width=image.width,
        height=image.height,
        size_bytes=len(encoded),
    )
    session.add(photo)
    session.flush()
    tasks.enqueue(session, "thumbnail", {"photo_id": photo.id}, dedupe_key=f"thumbnail:{photo.id}")
    return photo


def remove_photo(session: Session, photo: ListingPhoto) -> None:
    """Delete the photo and, once that commits, its files: a deleted photo must not stay
    reachable by its URL."""
    files = [photo_dir(size) / f"{photo.stored_name}.jpg" for size in ("full", "thumb")]
    session.delete(photo)
    session.flush()
    after_commit(session, lambda: [path.unlink(missing_ok=True) for path in files])


def make_thumbnail(session: Session, photo_id: int) -> dict:
    """The photo's thumbnail (the ``thumbnail`` job, ``catalog/jobs.py``)."""
    photo = session.get(ListingPhoto, photo_id)
    if photo is None:
        return {"skipped": "photo deleted"}
    source = photo_dir("full") / f"{photo.stored_name}.jpg"
    with Image.open(source) as image:
        image.thumbnail((current_app.config["THUMBNAIL_SIZE"],) * 2)
        target = photo_dir("thumb") / f"{photo.stored_name}.jpg"
        tmp = target.with_suffix(".tmp")
        image.save(tmp, "JPEG", quality=80)
        tmp.replace(target)  # atomic: a half-written thumbnail is never served
    photo.has_thumbnail = True
    return {"photo_id": photo.id}
