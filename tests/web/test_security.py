"""Rate limits, request ids, structured logs and security headers."""

from __future__ import annotations

import json
import logging

import pytest

from market.core import readiness


@pytest.fixture
def limited_app(database_url, tmp_path):
    from market import create_app
    from market.core.limits import limiter

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "limited"),
            "SECRET_KEY": "t",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            "WTF_CSRF_ENABLED": False,
            "RATE_LIMITS": True,
            "LOG_FORMAT": "text",
        }
    )
    limiter.reset()
    yield app
    limiter.reset()
    app.extensions["meguri.db"].dispose()


def test_login_is_rate_limited(limited_app):
    client = limited_app.test_client()
    codes = [
        client.post(
            "/login", data={"email": "x@example.jp", "password": "wrong password"}
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]


def test_signup_is_rate_limited(limited_app):
    client = limited_app.test_client()
    codes = [client.post("/signup", data={"email": "bad"}).status_code for _ in range(7)]
    assert codes[:5] == [400] * 5 and codes[5:] == [429, 429]


def test_wrong_api_tokens_are_rate_limited(limited_app):
    client = limited_app.test_client()
    codes = [
        client.get("/api/v1/listings", headers={"Authorization": "Bearer nope"}).status_code
        for _ in range(22)
    ]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]
    assert (
        "error"
        in client.get("/api/v1/listings", headers={"Authorization": "Bearer nope"}).get_json()
    )


def test_wrong_tokens_from_an_address_do_not_lock_out_a_valid_token(limited_app):
    from market.accounts import services
    from market.accounts.models import User
    from tests.conftest import Factory, in_session

    member = Factory(limited_app).user()
    secret = in_session(
        limited_app, lambda s: services.issue_api_token(s, s.get(User, member.id), "robot")[1]
    )
    client = limited_app.test_client()
    for _ in range(24):
        client.get("/api/v1/orders", headers={"Authorization": "Bearer guess"})
    assert (
        client.get("/api/v1/orders", headers={"Authorization": "Bearer guess"}).status_code == 429
    )
    valid = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
    assert valid.status_code == 200


def test_request_id_is_kept_or_made_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="meguri.access"):
        response = client.get("/healthz", headers={"X-Request-ID": "abc12345-from-lb"})
    assert response.headers["X-Request-ID"] == "abc12345-from-lb"
    assert any(getattr(r, "request_id", None) == "abc12345-from-lb" for r in caplog.records)
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers[
        "X-Request-ID"
    ]
    assert len(made) == 32 and " " not in made


def test_readiness_reports_the_database_the_queue_and_search(client, monkeypatch):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "queue": "ok", "search": "ok"}

    def down():
        raise ConnectionError("index unreachable")

    # A part that is not ready makes the whole answer 503, naming that part.
    monkeypatch.setitem(readiness.CHECKS, "search", down)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"]["search"] == "error: ConnectionError"


def test_json_log_lines_carry_the_request_fields():
    from market.core.observability import JsonFormatter

    record = logging.LogRecord("meguri.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.request_id, record.status, record.path = "rid", 200, "/"
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "rid" and line["status"] == 200 and line["level"] == "INFO"


def test_security_headers_allow_only_own_assets_and_the_tile_server(client):
    response = client.get("/listings")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "tile.openstreetmap.org" in csp
    assert (
        "script-src 'self' 'nonce-" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_admin_actions_are_audited_and_shown_to_site_admins(app, client, factory, login, db):
    from sqlalchemy import select

    from market.accounts.services import create_site_admin
    from market.core.models import AuditEvent

    admin = factory.user()
    login(admin)
    client.post("/organisation/invitations", data={"email": "new@example.jp", "role": "admin"})
    client.post("/account/tokens", data={"name": "ci"})
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["member.invite", "api_token.create"]
    assert events[0].actor_id == admin.id and events[0].details["email"] == "new@example.jp"
    assert events[0].request_id and events[0].remote_addr
    assert client.get("/admin/audit").status_code == 403
    client.post("/logout")
    with app.test_request_context():
        create_site_admin(db, "ops@example.jp", "ops password!", "Ops")
        db.commit()
    client.post("/login", data={"email": "ops@example.jp", "password": "ops password!"})
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "member.invite" in page and "site_admin.create" in page
