"""Read side of the catalogue: browse with filters, paging and a bounding box for maps."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from market.catalog import partners
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, ListingKind, ListingStatus

PUBLIC_STATUSES = (ListingStatus.open, ListingStatus.reserved)


@dataclass
class BrowseFilter:
    kind: str | None = None
    family: str | None = None
    prefecture_code: str | None = None
    soil_class_code: str | None = None
    material_code: str | None = None
    grade_code: str | None = None
    reuse_category_code: str | None = None
    material_category_code: str | None = None
    text: str | None = None
    available_on: dt.date | None = None
    price_min: int | None = None
    price_max: int | None = None
    organisation_id: int | None = None  # "my listings": includes drafts and closed
    include_closed: bool = False
    # Who is looking (None: a visitor): partner-only items show to their partners only.
    viewer_org_id: int | None = None

    def __post_init__(self) -> None:
        # PostgreSQL refuses NUL in text parameters; no real filter value contains one.
        for name, value in vars(self).items():
            if isinstance(value, str) and "\x00" in value:
                setattr(self, name, value.replace("\x00", "") or None)


@dataclass
class Page:
    items: list[Listing]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _statement(f: BrowseFilter) -> Select:
    stmt = select(Listing)
    if f.organisation_id is not None:
        stmt = stmt.where(Listing.organisation_id == f.organisation_id)
    elif f.include_closed:
        stmt = stmt.where(Listing.status != ListingStatus.draft)
    else:
        stmt = stmt.where(Listing.status.in_(PUBLIC_STATUSES))
    if f.organisation_id is None or f.organisation_id != f.viewer_org_id:
        stmt = stmt.where(partners.visible_to(f.viewer_org_id))
    if f.kind:
        stmt = stmt.where(Listing.kind == ListingKind(f.kind))
    if f.family:
        members = [k for k, spec in SPECS.items() if spec.family == f.family]
        stmt = stmt.where(Listing.kind.in_(members))
    for column in (
        "prefecture_code",
        "soil_class_code",
        "material_code",
        "grade_code",
        "reuse_category_code",
        "material_category_code",
    ):
        value = getattr(f, column)
        if value:
            stmt = stmt.where(getattr(Listing, column) == value)
    if f.available_on:
        stmt = stmt.where(
            Listing.window_start <= f.available_on, Listing.window_end >= f.available_on
        )
    if f.price_min is not None:
        stmt = stmt.where(Listing.price_per_unit >= f.price_min)
    if f.price_max is not None:
        stmt = stmt.where(Listing.price_per_unit <= f.price_max)
    if f.text:
        like = f"%{f.text.strip()[:100]}%"
        stmt = stmt.where(or_(Listing.title.ilike(like), Listing.description.ilike(like)))
    return stmt


def browse(session: Session, f: BrowseFilter, page: int = 1, per_page: int = 24) -> Page:
    stmt = _statement(f)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = session.scalars(
        stmt.options(selectinload(Listing.photos), selectinload(Listing.organisation))
        .order_by(Listing.created_at.desc(), Listing.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def map_points(session: Session, f: BrowseFilter, limit: int = 2000) -> list[dict]:
    """Light rows for the map: id, kind, title, position, price (no ORM objects)."""
    stmt = (
        _statement(f)
        .with_only_columns(
            Listing.id,
            Listing.kind,
            Listing.title,
            Listing.lat,
            Listing.lon,
            Listing.price_per_unit,
            Listing.unit,
        )
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "kind": r.kind.value,
            "title": r.title,
            "lat": r.lat,
            "lon": r.lon,
            "price": r.price_per_unit,
            "unit": r.unit,
        }
        for r in session.execute(stmt)
    ]


def organisation_listings(session: Session, organisation_id: int) -> list[Listing]:
    """Every listing of one organisation (drafts, closed and expired too), oldest first:
    what its export holds."""
    return list(
        session.scalars(
            select(Listing).where(Listing.organisation_id == organisation_id).order_by(Listing.id)
        )
    )
