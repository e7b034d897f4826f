"""The app's search index: which backend, listing rows → ListingDocument, and the outbox
that keeps the index in step with the database.

Every flush that touches a listing writes an outbox row in the same transaction; after
commit a task delivers pending rows to the index (and a periodic task retries those that
failed), so an index outage delays search, never loses a change."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator

from flask import Flask, current_app
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.orm import Session, selectinload

import search
from market import tasks
from market.catalog import events, partners
from market.catalog.kinds import SPECS
from market.catalog.models import (
    Grade,
    Listing,
    Material,
    MaterialCategory,
    Prefecture,
    ReuseCategory,
    SoilClass,
)
from market.core import readiness
from market.db import after_commit, utcnow
from market.finder.models import SearchOutbox, SynonymGroup

log = logging.getLogger(__name__)
BATCH = 500
MAX_BACKOFF_S = 600
_ensure_lock = threading.Lock()
_ADVISORY_SPACE = 0x5EA2C4  # the first key of the advisory locks deliverers take per listing


def make(app: Flask) -> search.SearchIndex:
    if app.config["SEARCH"] == "meilisearch":
        return search.make_index(
            app.config["MEILI_URL"], "meilisearch", api_key=app.config.get("MEILI_KEY")
        )
    return search.make_index(app.extensions["meguri.db"].engine)


@readiness.check("search")
def _ready() -> None:
    get_index().count()


def get_index(app: Flask | None = None) -> search.SearchIndex:
    """The app's index, its tables/settings and synonyms ensured once per process."""
    app = app or current_app._get_current_object()
    index = app.extensions["meguri.search"]
    # marked on the app, not by id(index): a new app's index may reuse a dead one's id
    if not app.extensions.get("meguri.search_ready"):
        with _ensure_lock:
            if not app.extensions.get("meguri.search_ready"):
                index.ensure()
                session = app.extensions["meguri.db"].new_session()
                try:
                    index.set_synonyms(synonyms_from(session))
                finally:
                    session.close()
                app.extensions["meguri.search_ready"] = True
    return index


def synonyms_from(session: Session) -> search.Synonyms:
    """The synonym groups administrators keep (market/finder/synonyms.py edits them)."""
    groups = session.scalars(select(SynonymGroup).order_by(SynonymGroup.id))
    return search.Synonyms(search.SynonymGroup(tuple(g.terms), g.mutual) for g in groups)


# --- documents -----------------------------------------------------------------------


class _Names:
    """Reference names (ja and en) so that free text finds 第2b種, RC-40 or 椅子 by name."""

    def __init__(self, session: Session):
        def table(model, key=lambda r: r.code):
            return {key(r): f"{r.name_ja} {r.name_en}" for r in session.scalars(select(model))}

        # Kind labels in both languages, so "soil", "発生土" or "stockyard" find listings.
        from flask_babel import force_locale

        labels: dict[str, list[str]] = {}
        for locale in ("ja", "en"):
            with force_locale(locale):
                for kind, spec in SPECS.items():
                    labels.setdefault(kind.value, []).append(str(spec.label))
        self.kind = {kind: " ".join(words) for kind, words in labels.items()}
        self.soil = table(SoilClass)
        self.material = table(Material)
        self.grade = table(Grade, key=lambda r: (r.material_code, r.code))
        self.reuse = table(ReuseCategory)
        self.material_category = table(MaterialCategory)
        self.prefecture = table(Prefecture)


def document(listing: Listing, names: _Names) -> search.ListingDocument:
    category = listing.reuse_category_code or listing.material_category_code
    grade = listing.grade_code or listing.min_grade_code
    extra = [
        names.kind.get(listing.kind.value),
        names.soil.get(listing.soil_class_code or ""),
        names.material.get(listing.material_code or ""),
        names.grade.get((listing.material_code, grade)),
        names.reuse.get(listing.reuse_category_code or ""),
        names.material_category.get(listing.material_category_code or ""),
        names.prefecture.get(listing.prefecture_code or ""),
        " ".join(names.soil.get(c, "") for c in (listing.accepted_classes or [])),
        " ".join(names.reuse.get(c, "") for c in (listing.category_prices or {})),
    ]
    return search.ListingDocument(
        id=listing.id,
        kind=listing.kind.value,
        title=listing.title,
        description="\n".join([listing.description or "", *[e for e in extra if e]]),
        org_name=listing.organisation.name,
        prefecture=listing.prefecture_code,
        municipality_code=listing.municipality_code,
        soil_class=listing.soil_class_code,
        grade=grade,
        material=listing.material_code,
        category=category,
        # Not indexable in its partner-only period: search would show it to everyone.
        status="partners_only" if partners.partner_only_now(listing) else listing.status.value,
        price_per_unit=listing.price_per_unit,
        unit=listing.unit,
        quantity=float(listing.open_quantity),
        window_start=listing.window_start,
        window_end=listing.window_end,
        lat=listing.lat,
        lon=listing.lon,
        created_at=listing.created_at,
    )


def all_documents(session: Session) -> Iterator[search.ListingDocument]:
    """Every listing (closed and drafts too: verify must see what should not be indexed),
    streamed in id order so memory stays flat."""
    names = _Names(session)
    last = 0
    while True:
        rows = session.scalars(
            select(Listing)
            .options(selectinload(Listing.organisation))
            .where(Listing.id > last)
            .order_by(Listing.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for listing in rows:
            yield document(listing, names)
        last = rows[-1].id
        session.expunge_all()


# --- outbox --------------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _ctx) -> None:
    touched = {
        obj.id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Listing) and obj.id is not None
    }
    if touched:
        listings_changed(session, touched)


@events.on_index_stale
def listings_changed(session: Session, listing_ids) -> None:
    """Queue index refreshes for listings, in the session's transaction. ORM changes call
    this by themselves; code that UPDATEs listings with Core statements must call it."""
    touched = set(listing_ids)
    if not touched:
        return
    now = utcnow()
    session.connection().execute(
        SearchOutbox.__table__.insert(),
        [
            {"listing_id": lid, "created_at": now, "attempts": 0, "next_attempt_at": now}
            for lid in sorted(touched)
        ],
    )
    if not session.info.get("meguri_outbox_trigger"):
        session.info["meguri_outbox_trigger"] = True
        after_commit(session, deliver_soon)


def deliver_soon() -> None:
    try:
        deliver_outbox_task()
    except Exception:  # noqa: BLE001 - the periodic task will deliver later
        log.exception("could not queue search outbox delivery")


# Not a Job (no row per listing change): a plain huey task sent after each commit, and
# every minute by ``finder/jobs.py`` for what failed. No huey lock_task here: its Redis
# key has no expiry, so a worker killed while holding it would stop delivery for good.
# Concurrent deliverers take disjoint rows instead.
@tasks.huey.task()
def deliver_outbox_task() -> None:
    tasks.in_app(deliver)


def deliver(app: Flask, limit: int = 5000) -> int:
    """Send due outbox entries to the index; failed ones wait with exponential backoff."""
    db = app.extensions["meguri.db"]
    session = db.new_session()
    delivered = 0
    try:
        index = None
        names = None
        while delivered < limit:
            now = utcnow()
            due = (
                select(SearchOutbox)
                .where(SearchOutbox.next_attempt_at <= now)
                .order_by(SearchOutbox.id)
                .limit(BATCH)
            )
            if not db.is_sqlite:
                due = due.with_for_update(skip_locked=True)  # another worker's batch is skipped
            entries = session.scalars(due).all()
            if not entries:
                break
            # Each listing's newest entry id orders racing writes of it: the index skips a
            # write older than one it already has (see search.SearchIndex.upsert).
            versions: dict[int, int] = {}
            for entry in entries:
                versions[entry.listing_id] = max(entry.id, versions.get(entry.listing_id, 0))
            ids = sorted(versions)
            entry_ids = [e.id for e in entries]
            if not db.is_sqlite:
                _serialise(session, ids)
            listings = {
                listing.id: listing
                for listing in session.scalars(
                    select(Listing)
                    .options(selectinload(Listing.organisation))
                    .where(Listing.id.in_(ids))
                    # as the database has it now, not as an earlier batch of this loop
                    # loaded it (the session keeps objects across its commits)
                    .execution_options(populate_existing=True)
                )
            }
            names = names or _Names(session)
            try:
                # Inside the try: an index unreachable since start-up cannot even be ensured.
                index = index or get_index(app)
                gone = [lid for lid in ids if lid not in listings]
                if gone:
                    index.delete(gone, versions=versions)
                index.upsert(
                    [document(listings[lid], names) for lid in ids if lid in listings],
                    versions=versions,
                )
            except Exception as exc:  # noqa: BLE001 - any index failure is retried later
                log.warning("search index unavailable, %s entries wait: %s", len(entries), exc)
                for entry in entries:
                    entry.attempts += 1
                    entry.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    entry.next_attempt_at = now + dt.timedelta(
                        seconds=min(MAX_BACKOFF_S, 2**entry.attempts)
                    )
                session.commit()
                return delivered
            _index_when_open_to_all(session, listings.values())
            # Delete only the entries we read: changes made meanwhile stay queued.
            session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(entry_ids)))
            session.commit()
            delivered += len(entries)
        return delivered
    finally:
        session.close()


def _index_when_open_to_all(session: Session, listings) -> None:
    """An item left out of the index for its partner-only period is indexed on the day the
    period ends: an outbox entry due then (one per listing and date)."""
    due = {
        listing.id: partners.opens_to_all_at(listing)
        for listing in listings
        if partners.partner_only_now(listing)
    }
    if not due:
        return
    waiting = set(
        session.execute(
            select(SearchOutbox.listing_id, SearchOutbox.next_attempt_at).where(
                SearchOutbox.listing_id.in_(sorted(due))
            )
        ).all()
    )
    now = utcnow()
    for listing_id, at in sorted(due.items()):
        if (listing_id, at) not in waiting:
            session.add(
                SearchOutbox(listing_id=listing_id, created_at=now, attempts=0, next_attempt_at=at)
            )


def _serialise(session: Session, listing_ids: list[int]) -> None:
    """Deliverers of the same listing take turns (PostgreSQL): a transaction-scoped
    advisory lock per listing, taken in id order and held until this batch commits, so a
    deliverer that reads a listing after another has read it also writes after it. The
    embedded engine orders writes by version by itself; Meilisearch cannot, and relies
    on this. (On SQLite there is one machine and the embedded engine.)"""
    for listing_id in listing_ids:
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :id)"),
            {"space": _ADVISORY_SPACE, "id": listing_id},
        )


def pending(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(SearchOutbox)) or 0


def retry_now(session: Session) -> None:
    """Make every waiting entry due (after an outage is fixed)."""
    session.execute(update(SearchOutbox).values(next_attempt_at=utcnow()))
