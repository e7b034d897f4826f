"""JSON API for listings (token auth) and its OpenAPI document."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import wraps

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask_babel import gettext as _

from market.accounts.services import user_for_token
from market.api.openapi import openapi_document
from market.catalog import imports, kinds, services, sheets
from market.catalog.models import Listing
from market.catalog.queries import BrowseFilter, browse, organisation_listings
from market.core.limits import failed_token_attempt, token_attempts_left
from market.errors import DomainError
from market.services import db_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(DomainError):
    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors


def token_optional(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        g.api_user = None
        if header:
            scheme, _sep, secret = header.partition(" ")
            if not token_attempts_left():
                raise ApiError(
                    429, _("Too many requests with a wrong API token. Please wait a minute.")
                )
            user = (
                user_for_token(db_session(), secret.strip()) if scheme.lower() == "bearer" else None
            )
            if user is None:
                failed_token_attempt()
                raise ApiError(401, _("The API token is missing, wrong or revoked."))
            g.api_user = user
        return fn(*args, **kwargs)

    return wrapper


def token_required(fn):
    @wraps(fn)
    @token_optional
    def wrapper(*args, **kwargs):
        if g.api_user is None:
            raise ApiError(401, _("Send an API token: Authorization: Bearer <token>."))
        return fn(*args, **kwargs)

    return wrapper


def _json(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def listing_json(listing: Listing, *, owner: bool) -> dict:
    body = {
        "id": listing.id,
        "kind": listing.kind.value,
        "status": listing.status.value,
        "organisation": {"id": listing.organisation_id, "name": listing.organisation.name},
        "unit": listing.unit,
        "open_quantity": float(listing.open_quantity),
        "photos": [
            {
                "full": url_for(
                    "core.photo_file", size="full", name=f"{p.stored_name}.jpg", _external=True
                ),
                "thumbnail": url_for(
                    "core.photo_file", size="thumb", name=f"{p.stored_name}.jpg", _external=True
                )
                if p.has_thumbnail
                else None,
            }
            for p in listing.photos
        ],
        "created_at": listing.created_at.isoformat() + "Z",
        "updated_at": listing.updated_at.isoformat() + "Z",
        "url": url_for("catalog.detail", listing_id=listing.id, _external=True),
    }
    for f in kinds.fields_for(listing.kind):
        if f.name == "private_note" and not owner:
            continue
        if f.name == "status":
            continue
        body[f.name] = _json(getattr(listing, f.name))
    return body


def json_body() -> dict:
    """The request's JSON object, or a 400 saying what to send."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # deeply nested JSON; ``silent`` only covers ValueError
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, _("Send a JSON object (Content-Type: application/json)."))
    return data


def whole_arg(name: str, default: int, high: int, errors: dict) -> int:
    """A whole-number query argument from 1 to ``high``; a bad one is named in ``errors``."""
    raw = request.args.get(name, str(default))
    if not (raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= high):
        errors[name] = _("must be a whole number from 1 to %(n)s", n=high)
        return default
    return int(raw)


def refuse(errors: dict) -> None:
    """400 naming every bad argument, if there is any."""
    if errors:
        raise ApiError(400, next(iter(errors.values())), errors)


def _is_owner(listing: Listing) -> bool:
    return g.api_user is not None and g.api_user.organisation_id == listing.organisation_id


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/listings")
@token_optional
def list_listings():
    args = request.args
    errors = {}
    kind = args.get("kind")
    if kind and kinds.kind_from(kind) is None:
        errors["kind"] = _("unknown listing kind")
    page_no, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    if page_no is None or page_no < 1:
        errors["page"] = _("must be a positive whole number")
    if per_page is None or not 1 <= per_page <= 200:
        errors["per_page"] = _("must be between 1 and 200")
    mine = args.get("mine") in {"1", "true"}
    if mine and g.api_user is None:
        errors["mine"] = _("needs an API token")
    if errors:
        raise ApiError(400, next(iter(errors.values())), errors)
    f = BrowseFilter(
        kind=kind or None,
        prefecture_code=args.get("prefecture_code") or None,
        soil_class_code=args.get("soil_class_code") or None,
        material_code=args.get("material_code") or None,
        text=(args.get("q") or "")[:200] or None,
        organisation_id=g.api_user.organisation_id if mine else None,
    )
    page = browse(db_session(), f, page=page_no, per_page=per_page)
    return jsonify(
        items=[listing_json(item, owner=_is_owner(item)) for item in page.items],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


def _int_arg(name: str, default: int) -> int | None:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return None


@bp.get("/listings/export")
@token_required
def export_listings():
    """Every listing of the caller's organisation, in the columns the import reads."""
    errors = {}
    fmt = request.args.get("format", "csv")
    if fmt not in sheets.FORMATS:
        errors["format"] = _("must be csv or xlsx")
    lang = request.args.get("headers", "ja")
    if lang not in ("ja", "en"):
        errors["headers"] = _("must be ja or en")
    refuse(errors)
    if g.api_user.organisation_id is None:
        raise ApiError(403, _("Join or create an organisation first."))
    listings = organisation_listings(db_session(), g.api_user.organisation_id)
    write = sheets.write_xlsx if fmt == "xlsx" else sheets.write_csv
    return Response(
        write(listings, lang),
        mimetype=sheets.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="listings.{fmt}"'},
    )


@bp.post("/listings/import")
@token_required
def import_listings():
    """Create and update the caller's organisation's listings from a CSV or XLSX file:
    all rows or none. ``dry_run`` checks and counts without writing."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(
            400,
            _("Send the file as multipart form data, field “file”."),
            {"file": _("this field is required")},
        )
    dry_run = (request.form.get("dry_run") or request.args.get("dry_run") or "").lower()
    if dry_run not in ("", "0", "1", "true", "false"):
        raise ApiError(400, _("must be true or false"), {"dry_run": _("must be true or false")})
    if g.api_user.organisation_id is None:
        raise ApiError(403, _("Join or create an organisation first."))
    s = db_session()
    outcome = imports.import_listings(
        s, g.api_user, upload.read(), dry_run=dry_run in ("1", "true"), locale=_locale()
    )
    if outcome.ok and not outcome.dry_run:
        s.commit()
        return jsonify(outcome.as_json())
    s.rollback()
    if outcome.ok:
        return jsonify(outcome.as_json())
    body = outcome.as_json()
    body["error"] = _("The file has errors: nothing was imported.")
    return jsonify(body), 422


@bp.get("/listings/<int:listing_id>")
@token_optional
def read_listing(listing_id: int):
    listing = services.visible_listing(db_session(), g.api_user, listing_id)
    return jsonify(listing_json(listing, owner=_is_owner(listing)))


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "ja")


@bp.post("/listings")
@token_required
def create_listing():
    data = json_body()
    kind = kinds.kind_from(data.get("kind"))
    if kind is None:
        raise ApiError(400, _("unknown listing kind"), {"kind": _("unknown listing kind")})
    s = db_session()
    services.ensure_can_create(g.api_user, kind)
    try:
        clean = kinds.validate(s, kind, data, locale=_locale())
    except kinds.Invalid as exc:
        raise ApiError(422, _("Some fields are not valid."), exc.errors) from None
    listing = services.create_listing(s, g.api_user, kind, clean)
    s.commit()
    return (
        jsonify(listing_json(listing, owner=True)),
        201,
        {"Location": url_for("api.read_listing", listing_id=listing.id)},
    )


@bp.route("/listings/<int:listing_id>", methods=["PATCH", "PUT"])
@token_required
def update_listing(listing_id: int):
    s = db_session()
    listing = services.visible_listing(s, g.api_user, listing_id)
    services.ensure_can_edit(g.api_user, listing)
    data = json_body()
    if "kind" in data and data["kind"] != listing.kind.value:
        raise ApiError(422, _("The kind of a listing cannot change."), {"kind": _("cannot change")})
    try:
        clean = kinds.validate(
            s,
            listing.kind,
            data,
            locale=_locale(),
            partial=request.method == "PATCH",
            current=services.current_values(listing),
        )
    except kinds.Invalid as exc:
        raise ApiError(422, _("Some fields are not valid."), exc.errors) from None
    services.update_listing(s, g.api_user, listing, clean)
    s.commit()
    return jsonify(listing_json(listing, owner=True))


@bp.post("/listings/<int:listing_id>/close")
@token_required
def close_listing(listing_id: int):
    s = db_session()
    listing = services.visible_listing(s, g.api_user, listing_id)
    services.close_listing(s, g.api_user, listing)
    s.commit()
    return jsonify(listing_json(listing, owner=True))
