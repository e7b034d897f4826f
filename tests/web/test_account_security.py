"""Account security: changing the password and signing out everywhere end every other
session of the user (a stolen or forgotten session stops working), never the current one."""

from __future__ import annotations

import re

from sqlalchemy import select

from market.accounts.models import User
from market.core.models import AuditEvent
from tests.conftest import PASSWORD

NEW_PASSWORD = "a much longer new password"


def two_sessions(app, member):
    here, elsewhere = app.test_client(), app.test_client()
    for client in (here, elsewhere):
        assert (
            client.post("/login", data={"email": member.email, "password": PASSWORD}).status_code
            == 302
        )
    return here, elsewhere


def signed_in(client) -> bool:
    return client.get("/account/security").status_code == 200


def can_sign_in(app, email, password) -> bool:
    return (
        app.test_client().post("/login", data={"email": email, "password": password}).status_code
        == 302
    )


def read(app, statement):
    """Query in an app context of its own: holding one across requests would share ``g``
    (the signed-in user) between the test clients."""
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        try:
            return session.execute(statement).scalars().all()
        finally:
            session.close()


def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=NEW_PASSWORD):
    return client.post(
        "/account/security",
        data={"current_password": current, "new_password": new, "confirm_password": confirm},
    )


def test_changing_the_password_ends_every_other_session(app, factory):
    member = factory.user()
    here, elsewhere = two_sessions(app, member)
    assert change(here).status_code == 302
    assert signed_in(here) and not signed_in(elsewhere)
    assert can_sign_in(app, member.email, NEW_PASSWORD) and not can_sign_in(
        app, member.email, PASSWORD
    )
    assert "password.change" in read(app, select(AuditEvent.action))


def test_a_wrong_field_is_named_and_nothing_changes(app, factory):
    member = factory.user()
    here, elsewhere = two_sessions(app, member)
    generation = read(app, select(User.session_generation).where(User.email == member.email))
    for form, field in (
        ({"current": "not my password"}, "current_password"),
        ({"new": "short", "confirm": "short"}, "new_password"),
        ({"confirm": NEW_PASSWORD + "!"}, "confirm_password"),
    ):
        response = change(here, **form)
        assert response.status_code == 400
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert (
        read(app, select(User.session_generation).where(User.email == member.email)) == generation
    )
    assert signed_in(here) and signed_in(elsewhere)
    assert can_sign_in(app, member.email, PASSWORD)


def test_signing_out_everywhere_keeps_only_this_session(app, factory):
    member = factory.user()
    here, elsewhere = two_sessions(app, member)
    assert here.post("/account/sessions/end").status_code == 302
    assert signed_in(here) and not signed_in(elsewhere)
    assert can_sign_in(app, member.email, PASSWORD)  # the password itself is unchanged
    assert "sessions.end" in read(app, select(AuditEvent.action))


def test_the_security_page_needs_a_signed_in_user(client):
    assert client.get("/account/security").status_code == 302
    assert client.post("/account/sessions/end").status_code == 302


def reset_link(app, email: str) -> str:
    mails = [m for m in app.extensions["meguri.mailer"].sent() if m["to"] == email]
    assert mails, "no reset mail"
    return re.search(r"https?://[^/\s]+(/password/reset/\S+)", mails[-1]["body"]).group(1)


def ask_for_reset(app, email):
    return app.test_client().post("/password/forgot", data={"email": email})


def test_a_reset_link_by_mail_sets_a_new_password_once(app, factory):
    member = factory.user()
    _here, elsewhere = two_sessions(app, member)
    assert ask_for_reset(app, member.email.upper()).status_code == 302
    link = reset_link(app, member.email)
    visitor = app.test_client()
    assert visitor.get(link).status_code == 200
    response = visitor.post(
        link, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert can_sign_in(app, member.email, NEW_PASSWORD) and not can_sign_in(
        app, member.email, PASSWORD
    )
    assert not signed_in(elsewhere)  # every session of the account ended
    assert visitor.get(link).status_code == 404  # one use: the password it replaced is gone
    assert "password.reset" in read(app, select(AuditEvent.action))


def test_unknown_addresses_get_the_same_answer_and_no_mail(app):
    before = len(app.extensions["meguri.mailer"].sent())
    response = ask_for_reset(app, "nobody@example.jp")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert len(app.extensions["meguri.mailer"].sent()) == before


def test_bad_expired_or_mistyped_resets_change_nothing(app, factory, monkeypatch):
    from market.accounts import services

    member = factory.user()
    ask_for_reset(app, member.email)
    link = reset_link(app, member.email)
    client = app.test_client()
    assert client.get(link[:-3] + "xyz").status_code == 404  # tampered
    response = client.post(link, data={"new_password": "short", "confirm_password": "short"})
    assert response.status_code == 400 and 'id="new_password-error"' in response.get_data(
        as_text=True
    )
    response = client.post(
        link, data={"new_password": NEW_PASSWORD, "confirm_password": "other password!"}
    )
    assert response.status_code == 400 and 'id="confirm_password-error"' in response.get_data(
        as_text=True
    )
    monkeypatch.setattr(services, "RESET_SECONDS", -1)
    assert client.get(link).status_code == 409  # expired
    assert can_sign_in(app, member.email, PASSWORD)
