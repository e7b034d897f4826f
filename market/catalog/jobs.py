"""Catalogue jobs: listings whose period has ended stop being offered (daily); a file of
listings uploaded on the web is checked or imported; a photo gets its thumbnail."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from huey import crontab
from sqlalchemy.orm import Session

from market import tasks
from market.accounts.models import User
from market.catalog import imports, photos
from market.catalog.services import expire_listings


@tasks.periodic(crontab(hour="15", minute="5"))  # 00:05 JST
def listing_expiry(session: Session) -> None:
    expire_listings(session)


@tasks.handler("thumbnail")
def thumbnail(session: Session, job, progress) -> dict:
    return photos.make_thumbnail(session, job.params["photo_id"])


@tasks.handler("listing_import")
def listing_import(session: Session, job, progress) -> dict:
    """A file uploaded on the web, checked (a preview: ``dry_run``) or imported. Either way
    the whole file or nothing: a run with errors is rolled back and lists them."""
    params = job.params
    locale = params.get("locale", "ja")
    user = session.get(User, params["user_id"])
    path = imports.stored_file(params["file"])
    with force_locale(locale):
        if user is None or not user.active or user.organisation_id is None or not path.exists():
            return {"gone": True}
        sqlite = current_app.extensions["meguri.db"].is_sqlite

        def report(stage: str, fraction: float) -> None:
            # SQLite lets one writer at a time: while the import holds the write lock the
            # job row cannot be updated from another connection.
            if not (sqlite and stage == "writing"):
                progress(stage, fraction)

        outcome = imports.import_listings(
            session,
            user,
            path.read_bytes(),
            dry_run=bool(params.get("dry_run")),
            locale=locale,
            progress=report,
        )
    if outcome.dry_run or not outcome.ok:
        session.rollback()
    else:
        imports.forget_file(session, params["file"])
    return {
        **outcome.as_json(),
        "dry_run": outcome.dry_run,
        "rows": [list(r) for r in outcome.rows[: imports.PREVIEW_ROWS]],
    }
