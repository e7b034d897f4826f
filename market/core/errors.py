"""Every error becomes a page (or JSON under /api) in the user's language; never a trace."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from market.core.field_errors import Error
from market.errors import DomainError
from market.services import db_session

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _answer(status: int, message: str, errors: dict[str, str] | None = None):
    # Nothing half-written survives an error; the database itself may be what failed.
    with contextlib.suppress(Exception):
        db_session().rollback()
    if _wants_json():
        body = Error(error=message, errors=errors or None)
        return jsonify(body.model_dump(mode="json", exclude_none=True)), status
    return render_template("error.html", status=status, message=message, back=_back()), status


def _back() -> str | None:
    """The page the user came from, on this site: where "what next" starts."""
    referrer = request.referrer or ""
    return referrer if referrer.startswith(request.host_url) else None


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        # A refusal of the whole request names no field; a field error names each one.
        return _answer(exc.status, exc.message, exc.errors if exc.field else None)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _answer(
            400, _("The form expired or was sent from elsewhere. Reload the page and try again.")
        )

    @app.errorhandler(413)
    def too_large(exc):
        message = _("The upload is too large.")
        return _answer(413, message, {"photos": message})

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(exc):
        log.error("database error: %s", exc)
        # The page must render without the database: as for a visitor who is not signed in
        # (loading the signed-in user, or anything lazy on it, would fail again).
        g._login_user = AnonymousUserMixin()
        return _answer(503, _("The service is briefly unavailable. Please try again in a moment."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {
            400: _("The request could not be understood."),
            401: _("Please sign in."),
            403: _("You are not allowed to do this."),
            404: _("Page not found."),
            405: _("This action is not allowed here."),
            429: _("Too many requests. Please wait a moment."),
        }
        return _answer(exc.code or 500, messages.get(exc.code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _answer(500, _("Something went wrong on our side. The error has been logged."))
