"""Access to the app's services from request code: the database session."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session


def db_session() -> Session:
    return current_app.extensions["meguri.db"].session()
