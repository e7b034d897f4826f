"""Sessions that end: signing out ends the session on the server (a copied cookie opens
nothing), a new password revokes API tokens and says so, and private answers are never
cached."""

from __future__ import annotations

from sqlalchemy import select

from market.accounts.models import ApiToken, LoginSession
from tests.conftest import PASSWORD, in_session

NEW_PASSWORD = "a much longer new password"


def issue_token(app, member) -> str:
    from market.accounts import services
    from market.accounts.models import User

    return in_session(
        app, lambda s: services.issue_api_token(s, s.get(User, member.id), "robot")[1]
    )


def api_status(app, secret: str) -> int:
    return (
        app.test_client()
        .get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
        .status_code
    )


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, factory, login, client):
    member = factory.user()
    login(member)
    assert client.get("/account/tokens").status_code == 200
    stolen = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/account/tokens").status_code == 200  # the copy works while signed in

    assert client.post("/logout").status_code == 302
    assert client.get("/account/tokens").status_code == 302  # to the sign-in page
    response = thief.get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert in_session(app, lambda s: s.scalars(select(LoginSession)).all()) == []


def test_signing_out_one_browser_leaves_the_others_signed_in(app, factory):
    member = factory.user()
    here, elsewhere = app.test_client(), app.test_client()
    for browser in (here, elsewhere):
        browser.post("/login", data={"email": member.email, "password": PASSWORD})
    here.post("/logout")
    assert here.get("/account/tokens").status_code == 302
    assert elsewhere.get("/account/tokens").status_code == 200


def test_a_new_password_revokes_the_api_tokens_and_says_so(app, factory, login, client):
    member = factory.user()
    secret = issue_token(app, member)
    other = factory.user()
    others_secret = issue_token(app, other)
    assert api_status(app, secret) == 200
    login(member)
    response = client.post(
        "/account/security",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "API トークン 1 件を無効にしました" in page  # Japanese first
    assert api_status(app, secret) == 401
    assert api_status(app, others_secret) == 200  # nobody else's
    assert client.get("/account/tokens").status_code == 200  # this browser stays signed in
    revoked = in_session(
        app, lambda s: s.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == member.id))
    )
    assert all(revoked)


def test_a_reset_by_mail_revokes_the_api_tokens(app, factory):
    import re

    member = factory.user()
    secret = issue_token(app, member)
    app.test_client().post("/password/forgot", data={"email": member.email})
    mail = [m for m in app.extensions["meguri.mailer"].sent() if m["to"] == member.email][-1]
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+)", mail["body"]).group(1)
    visitor = app.test_client()
    response = visitor.post(
        link,
        data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        follow_redirects=True,
    )
    assert "API トークン 1 件を無効にしました" in response.get_data(as_text=True)
    assert api_status(app, secret) == 401


def test_private_pages_pdfs_csvs_and_api_answers_are_not_stored(app, factory, login, client):
    member = factory.user()
    secret = issue_token(app, member)
    anonymous = app.test_client().get("/")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    login(member)
    for path in ("/", "/account/tokens", "/account/security", "/dashboard"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    api = app.test_client().get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
    assert api.headers["Cache-Control"] == "no-store"
    # Files that are the same for everyone may still be cached.
    with client.get("/vendor/leaflet/leaflet.js") as asset:
        assert asset.status_code == 200
        assert "no-store" not in asset.headers.get("Cache-Control", "")
