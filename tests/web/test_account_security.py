"""Account security: changing the password and signing out everywhere end every other
session of the user (a stolen or forgotten session stops working), never the current one."""

from __future__ import annotations

from sqlalchemy import select

from market.accounts.models import User
from market.core.models import AuditEvent
from tests.conftest import PASSWORD

NEW_PASSWORD = "a much longer new password"


def two_sessions(app, member):
    here, elsewhere = app.test_client(), app.test_client()
    for client in (here, elsewhere):
        assert client.post("/login", data={"email": member.email, "password": PASSWORD}).status_code == 302
    return here, elsewhere


def signed_in(client) -> bool:
    return client.get("/account/security").status_code == 200


def can_sign_in(app, email, password) -> bool:
    return app.test_client().post("/login", data={"email": email, "password": password}).status_code == 302


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
    return client.post("/account/security", data={
        "current_password": current, "new_password": new, "confirm_password": confirm})


def test_changing_the_password_ends_every_other_session(app, factory):
    member = factory.user()
    here, elsewhere = two_sessions(app, member)
    assert change(here).status_code == 302
    assert signed_in(here) and not signed_in(elsewhere)
    assert can_sign_in(app, member.email, NEW_PASSWORD) and not can_sign_in(app, member.email, PASSWORD)
    assert "password.change" in read(app, select(AuditEvent.action))


def test_a_wrong_field_is_named_and_nothing_changes(app, factory):
    member = factory.user()
    here, elsewhere = two_sessions(app, member)
    generation = read(app, select(User.session_generation).where(User.email == member.email))
    for form, field in (({"current": "not my password"}, "current_password"),
                        ({"new": "short", "confirm": "short"}, "new_password"),
                        ({"confirm": NEW_PASSWORD + "!"}, "confirm_password")):
        response = change(here, **form)
        assert response.status_code == 400
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert read(app, select(User.session_generation).where(User.email == member.email)) == generation
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
