"""API token authentication for every area's JSON routes: ``token_optional`` and
``token_required`` (the OpenAPI document reads which one a route uses). Apart from the
listings API in ``views.py``, so areas that serve an API import only this."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from flask_babel import gettext as _

from market.accounts.services import user_for_token
from market.core.limits import failed_token_attempt, token_attempts_left
from market.errors import RateLimited, Unauthorized
from market.services import db_session


def token_optional(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        g.api_user = None
        if header:
            scheme, _sep, secret = header.partition(" ")
            user = (
                user_for_token(db_session(), secret.strip()) if scheme.lower() == "bearer" else None
            )
            if user is None:
                # Only wrong tokens are limited: a valid token works whatever others sent
                # from the same address (an office behind one NAT, or someone guessing).
                if not token_attempts_left():
                    raise RateLimited(
                        _("Too many requests with a wrong API token. Please wait a minute.")
                    )
                failed_token_attempt()
                raise Unauthorized(_("The API token is missing, wrong or revoked."))
            g.api_user = user
        return fn(*args, **kwargs)

    wrapper.api_auth = "optional"  # read by the OpenAPI document
    return wrapper


def token_required(fn):
    @wraps(fn)
    @token_optional
    def wrapper(*args, **kwargs):
        if g.api_user is None:
            raise Unauthorized(_("Send an API token: Authorization: Bearer <token>."))
        return fn(*args, **kwargs)

    wrapper.api_auth = "token"
    return wrapper
