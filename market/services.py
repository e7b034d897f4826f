"""Access to the app's services from request code: the session, the mailer."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session


def db_session() -> Session:
    return current_app.extensions["meguri.db"].session()


def mailer():
    return current_app.extensions["meguri.mailer"]
