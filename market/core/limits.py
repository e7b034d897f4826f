"""Rate limits on sign-in, sign-up and API tokens (memory by default, Redis when set).

Counters live in the configured storage, so several gunicorn workers and machines
share them when Redis is configured."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

LOGIN = "10 per minute; 60 per hour"
SIGNUP = "5 per minute; 30 per hour"
TOKEN_CREATE = "10 per hour"
FAILED_TOKEN = parse("20 per minute")


def register(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)


def failed_token_attempt() -> bool:
    """Count a bad API token from this address; False once the address is over its limit."""
    if not limiter.enabled:
        return True
    return limiter.limiter.hit(FAILED_TOKEN, "api-token-failure", request.remote_addr or "-")


def token_attempts_left() -> bool:
    if not limiter.enabled:
        return True
    return limiter.limiter.test(FAILED_TOKEN, "api-token-failure", request.remote_addr or "-")
