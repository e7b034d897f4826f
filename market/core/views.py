"""Language switch, vendored Leaflet, photo files and health checks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import xstatic.pkg.leaflet as leaflet
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    send_from_directory,
    session,
)
from flask_login import current_user, login_required
from sqlalchemy import select, text

from market.config import LOCALES
from market.core import readiness
from market.core.forms import NextForm, parse_form
from market.core.models import AuditEvent
from market.core.writes import commit
from market.services import db_session

bp = Blueprint("core", __name__)
PHOTO_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")


@bp.post("/lang/<code>")
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
        if current_user.is_authenticated and current_user.locale != code:
            # remembered on the account too, so mails and notifications follow it
            commit(lambda _s: setattr(current_user, "locale", code))
    form, _errors = parse_form(NextForm)
    target = (form.next if form else "") or "/"
    # Only local paths: never an open redirect.
    if urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        target = "/"
    return redirect(target)


@bp.get("/vendor/leaflet/<path:filename>")
def leaflet_asset(filename: str):
    response = send_from_directory(leaflet.BASE_DIR, filename, max_age=86400)
    return response


@bp.get("/photos/<size>/<name>")
def photo_file(size: str, name: str):
    if size not in {"full", "thumb"} or not PHOTO_NAME.match(name):
        abort(404)
    folder = f"{current_app.config['UPLOAD_DIR']}/{size}"
    return send_from_directory(folder, name, max_age=3600)


@bp.get("/healthz")
def health():
    return jsonify(status="ok")


@bp.get("/readyz")
def ready():
    checks = {}
    try:
        db_session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    for name, check in readiness.CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks[name] = f"error: {type(exc).__name__}"
    status = 200 if all(v == "ok" for v in checks.values()) else 503
    return jsonify(status="ok" if status == 200 else "unavailable", checks=checks), status


@bp.get("/admin/audit")
@login_required
def audit_log():
    if not current_user.is_site_admin:
        abort(403)
    events = (
        db_session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500)).all()
    )
    return render_template("core/audit.html", events=events)
