"""The home page: how many listings of each kind are public, and the latest ones."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from market.catalog.models import Listing, ListingKind
from market.catalog.queries import PUBLIC_STATUSES, BrowseFilter, browse
from market.services import db_session

bp = Blueprint("site", __name__)


@bp.get("/")
def home():
    s = db_session()
    counts = dict(
        s.execute(
            select(Listing.kind, func.count())
            .where(Listing.status.in_(PUBLIC_STATUSES))
            .group_by(Listing.kind)
        ).all()
    )
    viewer = current_user.organisation_id if current_user.is_authenticated else None
    recent = browse(s, BrowseFilter(viewer_org_id=viewer), per_page=8).items
    return render_template(
        "home.html", counts={k: counts.get(k, 0) for k in ListingKind}, recent=recent
    )
