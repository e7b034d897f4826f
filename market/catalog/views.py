"""Listing pages: browse with filters and a map, detail, create/edit per kind, photos."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from market import formats
from market.catalog import kinds, photos, services, validation
from market.catalog.forms import listing_form
from market.catalog.models import (
    Grade,
    GradeProperty,
    Listing,
    ListingKind,
    ListingPhoto,
    ListingStatus,
    Material,
    MaterialProperty,
    Prefecture,
    SoilClass,
)
from market.catalog.queries import BrowseFilter, browse, map_points
from market.core.writes import commit, commit_or_refuse
from market.db import MAX_INT, id_in_range, japan_today
from market.errors import Forbidden, NotFound
from market.services import db_session

bp = Blueprint("catalog", __name__)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip().replace(",", "")
    try:
        value = int(raw) if raw else None
    except ValueError:
        return None
    # Clamp so that a filter of absurd size still means "none" or "all", not a database error.
    return None if value is None else max(-MAX_INT, min(MAX_INT, value))


def _filter_from_args() -> BrowseFilter:
    args = request.args
    kind = args.get("kind") if kinds.kind_from(args.get("kind")) else None
    family = (
        args.get("family")
        if args.get("family") in {s.family for s in kinds.SPECS.values()}
        else None
    )
    try:
        available_on = (
            dt.date.fromisoformat(args["available_on"]) if args.get("available_on") else None
        )
    except ValueError:
        available_on = None
    return BrowseFilter(
        viewer_org_id=current_user.organisation_id if current_user.is_authenticated else None,
        kind=kind,
        family=family,
        prefecture_code=args.get("prefecture_code") or None,
        soil_class_code=args.get("soil_class_code") or None,
        material_code=args.get("material_code") or None,
        grade_code=args.get("grade_code") or None,
        text=(args.get("q") or "").strip()[:200] or None,
        available_on=available_on,
        price_min=_int_arg("price_min"),
        price_max=_int_arg("price_max"),
    )


@bp.get("/listings")
def browse_listings():
    s = db_session()
    f = _filter_from_args()
    page = browse(s, f, page=_int_arg("page") or 1)
    return render_template(
        "catalog/browse.html",
        page=page,
        f=f,
        prefectures=s.scalars(select(Prefecture).order_by(Prefecture.code)).all(),
        soil_classes=s.scalars(select(SoilClass).order_by(SoilClass.rank)).all(),
        materials=s.scalars(select(Material).order_by(Material.code)).all(),
    )


@bp.get("/listings/map.json")
def listings_map():
    return jsonify(points=map_points(db_session(), _filter_from_args()))


@bp.get("/my/listings")
@login_required
def my_listings():
    if current_user.organisation_id is None:
        abort(404)
    page = browse(
        db_session(),
        BrowseFilter(organisation_id=current_user.organisation_id),
        page=_int_arg("page") or 1,
    )
    return render_template("catalog/mine.html", page=page)


@bp.get("/listings/<int:listing_id>")
def detail(listing_id: int):
    s = db_session()
    listing = services.visible_listing(
        s, current_user if current_user.is_authenticated else None, listing_id
    )
    can_edit = (
        current_user.is_authenticated and current_user.organisation_id == listing.organisation_id
    )
    fields = [
        f
        for f in kinds.fields_for(listing.kind)
        if f.name not in {"title", "description", "lat", "lon", "status", "private_note"}
    ]
    return render_template(
        "catalog/detail.html",
        listing=listing,
        spec=kinds.SPECS[listing.kind],
        fields=fields,
        can_edit=can_edit,
        display=_display_values(listing, fields),
    )


def _display_values(listing, fields) -> dict[str, str]:
    """Human text for each field, with reference codes turned into names."""
    s = db_session()
    from flask_babel import get_locale

    locale = str(get_locale() or "ja")
    out: dict[str, str] = {}
    for f in fields:
        value = getattr(listing, f.name)
        if value is None or value == "" or value == {} or value == []:
            continue
        if f.type == "choice" and f.choices:
            names = dict(f.choices(s, locale))
            out[f.name] = names.get(str(value), str(value))
        elif f.type == "multichoice" and f.choices:
            names = dict(f.choices(s, locale))
            out[f.name] = "、".join(names.get(v, v) for v in value)
        elif f.type == "bool":
            out[f.name] = _("Yes") if value else _("No")
        elif f.type in {"prices", "properties"}:
            names = dict(f.keys(s, locale))
            suffix = " " + _("yen") if f.type == "prices" else ""
            out[f.name] = "、".join(
                f"{names.get(k, k)}: {formats.number(v)}{suffix}" for k, v in value.items()
            )
        elif f.type == "limits":
            names = dict(f.keys(s, locale))
            parts = []
            for k, b in value.items():
                rng = " ".join(
                    f"{'≥' if side == 'min' else '≤'} {formats.number(v)}"
                    for side, v in sorted(b.items(), reverse=True)
                )
                parts.append(f"{names.get(k, k)} {rng}")
            out[f.name] = "、".join(parts)
        elif f.type == "grade":  # "A" alone says little: ベールA, 再生粗骨材H
            grade = s.get(Grade, (listing.material_code, value)) if listing.material_code else None
            out[f.name] = (
                (grade.name_en if locale == "en" else grade.name_ja) if grade else str(value)
            )
        elif f.name == "quantity":
            out[f.name] = formats.quantity_with_unit(value, listing.unit)
        elif f.type in {"int", "decimal", "float"}:
            out[f.name] = formats.number(value)
        else:
            out[f.name] = str(value)
    return out


@bp.get("/listings/new")
@login_required
def new_listing():
    org = current_user.organisation
    # Listings belong to an organisation: without one (a site administrator) nothing is offered.
    choices = [
        spec
        for spec in kinds.SPECS.values()
        if org is not None and (not spec.org_kinds or org.kind.value in spec.org_kinds)
    ]
    return render_template("catalog/choose_kind.html", choices=choices)


def _form_context(kind: ListingKind, values: dict, errors: dict, listing=None):
    s = db_session()
    from flask_babel import get_locale

    locale = str(get_locale() or "ja")
    grades = s.scalars(select(Grade).order_by(Grade.material_code, Grade.rank)).all()
    return dict(
        kind=kind,
        spec=kinds.SPECS[kind],
        fields=kinds.fields_for(kind),
        values=values,
        errors=errors,
        listing=listing,
        grades=grades,
        locale=locale,
        choices={f.name: f.choices(s, locale) for f in kinds.fields_for(kind) if f.choices},
        keys={f.name: _ordered(s, f.keys(s, locale)) for f in kinds.fields_for(kind) if f.keys},
        **_property_context(s, kind),
    )


def _ordered(s, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Measured properties in the order materials list them (IV first for rPET, 修正CBR for
    road base); other keys (reuse categories) as they come."""
    rank: dict[str, int] = {}
    for link in s.scalars(select(MaterialProperty)):
        rank[link.property_code] = min(rank.get(link.property_code, 99), link.position)
    if not any(code in rank for code, _ in keys):
        return keys
    return sorted(keys, key=lambda pair: (rank.get(pair[0], 99), pair[0]))


def _property_context(s, kind: ListingKind) -> dict:
    """For a recycled lot's form: which materials each property is asked of (the form
    shows only the chosen material's) and where its figures come from."""
    if kinds.SPECS[kind].family != "recycled":
        return {"property_materials": {}, "property_sources": {}}
    materials: dict[str, list[str]] = {}
    for link in s.scalars(select(MaterialProperty).order_by(MaterialProperty.position)):
        materials.setdefault(link.property_code, []).append(link.material_code)
    sources = {p.code: p.source or "" for p in s.scalars(select(GradeProperty))}
    return {"property_materials": materials, "property_sources": sources}


def _save(kind: ListingKind, listing=None):
    """Validate, write the listing and its photos, commit once; or re-render with errors."""
    data = listing_form(kind)

    def save(s) -> Listing:
        clean = validation.validate(s, kind, data, locale=_locale())
        if listing is None:
            services.ensure_can_create(current_user, kind)
            saved = services.create_listing(s, current_user, kind, clean)
        else:
            saved = services.update_listing(s, current_user, listing, clean)
        for upload in request.files.getlist("photos"):
            if upload and upload.filename:
                photos.add_photo(s, saved, upload.read())
        return saved

    done = commit_or_refuse(save, unless=(Forbidden, NotFound))
    if not done.ok:
        return render_template(
            "catalog/form.html", **_form_context(kind, data, done.errors, listing)
        ), 400
    flash(_("Listing saved."), "success")
    return redirect(url_for("catalog.detail", listing_id=done.result.id))


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "ja")


@bp.route("/listings/new/<kind>", methods=["GET", "POST"])
@login_required
def create(kind: str):
    listing_kind = kinds.kind_from(kind)
    if listing_kind is None:
        abort(404)
    services.ensure_can_create(current_user, listing_kind)
    if request.method == "POST":
        return _save(listing_kind)
    today = japan_today()
    org = current_user.organisation
    pref = db_session().get(Prefecture, org.prefecture_code) if org.prefecture_code else None
    values = {
        "window_start": today.isoformat(),
        "window_end": (today + dt.timedelta(days=90)).isoformat(),
        "status": "open",
        "prefecture_code": org.prefecture_code or "13",
        "lat": formats.number(pref.lat, 5, grouped=False) if pref else "35.6895",
        "lon": formats.number(pref.lon, 5, grouped=False) if pref else "139.6917",
    }
    return render_template("catalog/form.html", **_form_context(listing_kind, values, {}))


def _own_listing(listing_id: int):
    s = db_session()
    listing = services.visible_listing(s, current_user, listing_id)
    services.ensure_can_edit(current_user, listing)
    return listing


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(listing_id: int):
    listing = _own_listing(listing_id)
    if request.method == "POST":
        return _save(listing.kind, listing)
    values = {k: formats.plain(v) for k, v in services.current_values(listing).items()}
    # An expired listing is edited to be published again (with a period that is not over).
    values["status"] = "open" if listing.status == ListingStatus.expired else listing.status.value
    return render_template("catalog/form.html", **_form_context(listing.kind, values, {}, listing))


@bp.post("/listings/<int:listing_id>/close")
@login_required
def close(listing_id: int):
    listing = _own_listing(listing_id)
    commit(lambda s: services.close_listing(s, current_user, listing))
    flash(_("Listing closed."), "success")
    return redirect(url_for("catalog.detail", listing_id=listing.id))


@bp.post("/listings/<int:listing_id>/photos/<int:photo_id>/delete")
@login_required
def delete_photo(listing_id: int, photo_id: int):
    listing = _own_listing(listing_id)

    def remove(s) -> None:
        photo = s.get(ListingPhoto, photo_id) if id_in_range(photo_id) else None
        if photo is None or photo.listing_id != listing.id:
            abort(404)
        photos.remove_photo(s, photo)

    commit(remove)
    return redirect(url_for("catalog.edit", listing_id=listing.id))
