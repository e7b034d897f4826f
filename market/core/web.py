"""Template helpers and security headers shared by every page (the catalogue's helpers are
``market/site/web.py``)."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode, urlsplit

from flask import Flask, g, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from market import formats
from market.db import japan_today, to_japan
from market.errors import DomainError, Invalid
from market.text import CONTROL

FIELD_VALIDATED = {
    "catalog.create",
    "catalog.edit",
    "catalog.browse_listings",
    "catalog.listings_map",
}


# Files that are the same for everyone: caching them is safe whoever asks.
PUBLIC_FILES = {"static", "core.leaflet_asset", "core.photo_file"}


MAX_ROW_ID = 2**31 - 1


def _private_request() -> bool:
    """Whether the answer may hold someone's own data: a signed-in browser or an API token."""
    return bool(
        request.headers.get("Authorization") or g.get("api_user") or session.get("_user_id")
    )


def _control_character_path(value, path: str = "") -> str | None:
    """The dotted path of the first string (value or key) in a JSON document that holds a
    control character other than tab and line breaks; None when there is none."""
    if isinstance(value, str):
        return (path or "body") if CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if CONTROL.search(key):
                return CONTROL.sub("", here)[:80] or "body"
            if (found := _control_character_path(item, here)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            here = f"{path}.{index}" if path else str(index)
            if (found := _control_character_path(item, here)) is not None:
                return found
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url.replace("{s}", "a"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in a URL is always a row id: one beyond the database's 32-bit integer is
    simply not found (404), never a query PostgreSQL refuses (a 500).

    It is read as 0, an id no row has, rather than refused by the converter: werkzeug
    checks a rule's methods before its converters, so a refused id on a route that has
    other methods (PATCH /api/v1/listings/<huge>) would answer 405, not 404."""

    def to_python(self, value: str) -> int:
        if len(value) > 10:  # also keeps int() away from its digit limit
            return 0
        number = int(value)
        return number if number <= MAX_ROW_ID else 0


def register(app: Flask) -> None:
    """Request guards, security headers and the templates' globals and filters."""
    _register_guards(app)
    _register_headers(app)
    _register_globals(app)
    _register_filters(app)


def _register_guards(app: Flask) -> None:
    @app.before_request
    def _nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.before_request
    def _refuse_nul():
        # PostgreSQL cannot store NUL in text and no input of ours needs it. The listing
        # forms and filters check control characters field by field (a message beside
        # the field); everywhere else this answers 400 naming the field.
        if request.endpoint in FIELD_VALIDATED:
            return
        for source in (request.args, request.form):
            for key, value in source.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    name = key.replace("\x00", "")[:40]
                    raise DomainError(
                        _("The field %(f)s contains a character that is not allowed.", f=name),
                        field=name,
                    )

    @app.before_request
    def _refuse_control_characters_in_json():
        # Same rule for JSON bodies, at any depth: NUL and the other control characters
        # (tab, line feed and carriage return are text) answer 422 naming the field by its
        # path, before any service sees them or the database refuses them mid-flush.
        if not request.is_json:
            return
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # deeply nested: the contract answers it
            return
        path = _control_character_path(body)
        if path is not None:  # a body field is wrong: 422, as the contract answers
            raise Invalid({path: _("must not contain control characters")})


def _register_headers(app: Flask) -> None:
    tile_origin = _origin(app.config["TILE_URL"])
    tile_sources = {
        tile_origin,
        _origin(app.config["TILE_URL"].replace("{s}", "b")),
        _origin(app.config["TILE_URL"].replace("{s}", "c")),
    } - {""}

    @app.after_request
    def _headers(response):
        img = " ".join(["'self'", "data:", *sorted(tile_sources)])
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src {img}; script-src 'self' 'nonce-{g.get('csp_nonce', '')}'; "
            "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            "form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint not in PUBLIC_FILES and _private_request():
            # Pages, PDFs and CSVs of a signed-in user stay out of shared and browser caches
            # (the back button after signing out, a proxy, a shared computer).
            response.headers["Cache-Control"] = "no-store"
        return response


def _register_globals(app: Flask) -> None:
    @app.context_processor
    def _globals():
        return {
            "locale": str(get_locale() or "ja"),
            "tile_url": app.config["TILE_URL"],
            "tile_attribution": app.config["TILE_ATTRIBUTION"],
            "csp_nonce": g.get("csp_nonce", ""),
            "today": japan_today(),  # Japan's date, whatever the server's zone
        }

    @app.template_global()
    def url_with(**changes) -> str:
        args = request.args.to_dict()
        args.update({k: v for k, v in changes.items() if v is not None})
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
        return f"{request.path}?{urlencode(args)}"


def _register_filters(app: Flask) -> None:
    @app.template_filter("yen")
    def yen(value) -> str:
        if value is None:
            return "—"
        value = int(value)
        return f"-¥{-value:,}" if value < 0 else f"¥{value:,}"

    @app.template_filter("jst")
    def jst(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A stored timestamp (naive UTC) as Japan's wall-clock time, the only one users see."""
        if value is None:
            return "—"
        return to_japan(value).strftime(fmt)

    @app.template_filter("unit")
    def unit(value) -> str:
        """Units as people write them: m³ not m3; 'item' and 'piece' read as a count."""
        return formats.unit_label(value)

    @app.template_filter("qty")
    def qty(value, unit: str | None = None) -> str:
        """A quantity with at most the decimals its unit needs (none for items)."""
        return formats.quantity(value, unit)

    @app.template_filter("num")
    def num(value, places: int = 3) -> str:
        return formats.number(value, places)

    @app.template_filter("history_note")
    def history_note(note: str | None) -> str:
        """An order history note as stored ("proposal proposal:94", "3 item (slip 12)")
        in the reader's words: "マッチング提案 #94より", "3 点 (slip 12)"."""
        if not note:
            return ""
        proposal = re.fullmatch(r"proposal proposal:(\d+)", note)
        if proposal:
            return _("From match proposal #%(id)s", id=proposal.group(1))
        delivered = re.fullmatch(r"([\d,.]+) ([a-z0-9]+)( \(.*\))?", note, re.S)
        if delivered:
            amount, unit_code, rest = delivered.groups()
            return formats.quantity_with_unit(amount.replace(",", ""), unit_code) + (rest or "")
        return note
