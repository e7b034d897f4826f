"""JSON API for listings (token auth): browse, read, create, edit, close, export and import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, Response, g, request, url_for
from flask_babel import gettext as _

from market.api.auth import token_optional, token_required
from market.api.contract import answer, operation
from market.catalog import imports, kinds, services, sheets, validation
from market.catalog.models import Listing
from market.catalog.queries import BrowseFilter, browse, organisation_listings
from market.catalog.schemas import (
    ImportDone,
    ImportFailed,
    ImportRefused,
    ListingsExportQuery,
    ListingsImport,
    ListingsPage,
    ListingsQuery,
    listing_patch_model,
    new_listing_model,
)
from market.catalog.schemas import Listing as ListingOut
from market.core.writes import commit
from market.errors import Forbidden, Invalid
from market.services import db_session

api = Blueprint("catalog_api", __name__, url_prefix="/api/v1")


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


def _is_owner(listing: Listing) -> bool:
    return g.api_user is not None and g.api_user.organisation_id == listing.organisation_id


NEW_LISTING, LISTING_PATCH = new_listing_model(), listing_patch_model()


@api.get("/listings")
@token_optional
@operation(
    "List public listings (or your own with mine=true)",
    query=ListingsQuery,
    ok=(200, ListingsPage),
)
def list_listings(query: ListingsQuery):
    if query.mine and g.api_user is None:
        raise Invalid({"mine": _("needs an API token")}, status=400)
    f = BrowseFilter(
        kind=query.kind.value if query.kind else None,
        prefecture_code=query.prefecture_code or None,
        soil_class_code=query.soil_class_code or None,
        material_code=query.material_code or None,
        text=query.q or None,
        organisation_id=g.api_user.organisation_id if query.mine else None,
        viewer_org_id=g.api_user.organisation_id if g.api_user is not None else None,
    )
    page = browse(db_session(), f, page=query.page, per_page=query.per_page)
    return answer(
        ListingsPage,
        {
            "items": [listing_json(item, owner=_is_owner(item)) for item in page.items],
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
        },
    )


def _export_description() -> str:
    columns = zip(sheets.columns(), sheets.headers("ja"), sheets.headers("en"), strict=True)
    return "Columns (Japanese / English header): " + "; ".join(
        f"{c.name} ({ja} / {en})" for c, ja, en in columns
    )


@api.get("/listings/export")
@token_required
@operation(
    "Every listing of your organisation as CSV (UTF-8 with BOM) or XLSX, in the columns the "
    "import reads: it imports back unchanged",
    query=ListingsExportQuery,
    ok=(200, ""),
    ok_media=tuple(sheets.MIMETYPES.values()),
    errors=(400, 401, 403, 429),
    description="See docs/import.md for how each column is written.",
)
def export_listings(query: ListingsExportQuery):
    if g.api_user.organisation_id is None:
        raise Forbidden(_("Join or create an organisation first."))
    listings = organisation_listings(db_session(), g.api_user.organisation_id)
    write = sheets.write_xlsx if query.format == "xlsx" else sheets.write_csv
    return Response(
        write(listings, query.headers),
        mimetype=sheets.MIMETYPES[query.format],
        headers={"Content-Disposition": f'attachment; filename="listings.{query.format}"'},
    )


@api.post("/listings/import")
@token_required
@operation(
    "Create and update your organisation's listings from a CSV or XLSX file: every row or none",
    body=ListingsImport,
    body_media="multipart/form-data",
    ok=(200, ImportDone),
    more_ok=((422, ImportRefused),),
    errors=(400, 401, 403, 429),
    description="Headers in Japanese or English (or the field names). A row with `id` or "
    "`external_id` of one of your listings updates it (or leaves it unchanged); any other row "
    f"creates a listing. At most {sheets.MAX_ROWS:,} rows. See docs/import.md.",
)
def import_listings(body: ListingsImport):
    if g.api_user.organisation_id is None:
        raise Forbidden(_("Join or create an organisation first."))
    outcome = commit(
        lambda s: imports.import_listings(
            s, g.api_user, body.file.read(), dry_run=body.dry_run in ("1", "true"), locale=_locale()
        ),
        keep=lambda outcome: outcome.ok and not outcome.dry_run,
    )
    if outcome.ok:
        return answer(ImportDone, outcome.as_json())
    refused = {**outcome.as_json(), "error": _("The file has errors: nothing was imported.")}
    return answer(ImportFailed, refused, 422)


@api.get("/listings/<int:listing_id>")
@token_optional
@operation("Read a listing", ok=(200, ListingOut), errors=(401, 404, 429))
def read_listing(listing_id: int):
    listing = services.visible_listing(db_session(), g.api_user, listing_id)
    return answer(ListingOut, listing_json(listing, owner=_is_owner(listing)))


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "ja")


@api.post("/listings")
@token_required
@operation(
    "Create a listing",
    body=NEW_LISTING,
    ok=(201, ListingOut),
    errors=(400, 401, 403, 422, 429),
)
def create_listing(body):
    data = body.root.model_dump(mode="json", exclude_unset=True)
    kind = kinds.kind_from(data.pop("kind"))
    services.ensure_can_create(g.api_user, kind)

    def create(s):
        try:
            clean = validation.validate(s, kind, data, locale=_locale())
        except Invalid as exc:
            raise Invalid(exc.errors, message=_("Some fields are not valid.")) from None
        return services.create_listing(s, g.api_user, kind, clean)

    listing = commit(create)
    return answer(
        ListingOut,
        listing_json(listing, owner=True),
        201,
        {"Location": url_for("catalog_api.read_listing", listing_id=listing.id)},
    )


@api.route("/listings/<int:listing_id>", methods=["PATCH", "PUT"])
@token_required
@operation(
    "Change a listing (PATCH: the fields given; PUT: every field of its kind)",
    body=LISTING_PATCH,
    ok=(200, ListingOut),
    errors=(400, 401, 403, 404, 409, 422, 429),
)
def update_listing(listing_id: int, body):
    data = body.model_dump(mode="json", exclude_unset=True)

    def update(s):
        listing = services.visible_listing(s, g.api_user, listing_id)
        services.ensure_can_edit(g.api_user, listing)
        if data.pop("kind", listing.kind.value) != listing.kind.value:
            raise Invalid(
                {"kind": _("cannot change")}, message=_("The kind of a listing cannot change.")
            )
        try:
            clean = validation.validate(
                s,
                listing.kind,
                data,
                locale=_locale(),
                partial=request.method == "PATCH",
                current=services.current_values(listing),
            )
        except Invalid as exc:
            raise Invalid(exc.errors, message=_("Some fields are not valid.")) from None
        services.update_listing(s, g.api_user, listing, clean)
        return listing

    listing = commit(update)
    return answer(ListingOut, listing_json(listing, owner=True))


@api.post("/listings/<int:listing_id>/close")
@token_required
@operation(
    "Close a listing (no new orders)", ok=(200, ListingOut), errors=(401, 403, 404, 409, 429)
)
def close_listing(listing_id: int):
    def close(s):
        listing = services.visible_listing(s, g.api_user, listing_id)
        services.close_listing(s, g.api_user, listing)
        return listing

    listing = commit(close)
    return answer(ListingOut, listing_json(listing, owner=True))
