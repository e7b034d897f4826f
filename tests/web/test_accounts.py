"""Sign-up, sign-in, invitations and sessions as a user meets them."""

from __future__ import annotations

from sqlalchemy import select

from market.accounts.models import Invitation, Organisation, User


def signup_form(**over):
    form = {
        "org_name": "東都建設",
        "org_kind": "contractor",
        "prefecture_code": "13",
        "display_name": "山田太郎",
        "email": "yamada@example.jp",
        "password": "long enough pw",
    }
    form.update(over)
    return form


def test_signup_creates_organisation_and_admin_and_signs_in(client, db):
    response = client.post("/signup", data=signup_form())
    assert response.status_code == 302
    user = db.scalar(select(User).where(User.email == "yamada@example.jp"))
    assert user.organisation.name == "東都建設" and user.is_org_admin
    assert user.password_hash != "long enough pw"
    assert client.get("/my/listings").status_code == 200


def test_signup_errors_name_each_field_and_create_nothing(client, db):
    response = client.post(
        "/signup", data=signup_form(email="not-an-email", password="short", org_kind="pirate")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        'id="email-error"' in page
        and 'id="password-error"' in page
        and 'id="org_kind-error"' in page
    )
    assert db.scalar(select(Organisation)) is None


def test_stockyard_operator_must_give_registration_number(client):
    response = client.post("/signup", data=signup_form(org_kind="stockyard_operator"))
    assert response.status_code == 400
    assert 'id="stockyard_registration_no-error"' in response.get_data(as_text=True)


def test_duplicate_email_is_refused(client, factory):
    member = factory.user()
    response = client.post("/signup", data=signup_form(email=member.email.upper()))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    # Named beside the e-mail field, in the page's language (Japanese first).
    assert 'id="email-error"' in page
    assert "このメールアドレスのアカウントは既に登録されています。" in page


def test_login_with_wrong_password_fails_without_saying_which(client, factory):
    member = factory.user()
    wrong = client.post("/login", data={"email": member.email, "password": "nope nope nope"})
    unknown = client.post(
        "/login", data={"email": "ghost@example.jp", "password": "nope nope nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).count("error") == unknown.get_data(as_text=True).count(
        "error"
    )


def test_login_starts_a_fresh_session(client, factory):
    member = factory.user()
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    client.post("/login", data={"email": member.email, "password": "correct horse battery"})
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_invitation_flow(app, client, factory, login, db):
    admin = factory.user()
    login(admin)
    response = client.post(
        "/organisation/invitations", data={"email": "new@example.jp", "role": "member"}
    )
    assert response.status_code == 302
    mail = app.extensions["meguri.mailer"].sent()
    assert mail and mail[-1]["to"] == "new@example.jp"
    link = next(word for word in mail[-1]["body"].split() if "/invitations/" in word)
    token = link.rsplit("/", 1)[1]
    client.post("/logout")
    accepted = client.post(
        f"/invitations/{token}", data={"display_name": "新人", "password": "another long pw"}
    )
    assert accepted.status_code == 302
    user = db.scalar(select(User).where(User.email == "new@example.jp"))
    assert user.organisation_id == admin.org_id and not user.is_org_admin
    # A used invitation cannot be used again.
    assert client.get(f"/invitations/{token}").status_code == 404
    assert db.scalar(select(Invitation)).accepted_at is not None


def test_members_cannot_invite(client, factory, login, db, app):
    admin = factory.user()
    with app.test_request_context():
        from market.accounts import services

        session = app.extensions["meguri.db"].session()
        _inv, token = services.invite(
            session, session.get(User, admin.id), "m@example.jp", "member"
        )
        member = services.accept_invitation(session, token, "member password", "Member")
        session.commit()
        email = member.email
    client.post("/login", data={"email": email, "password": "member password"})
    assert (
        client.post(
            "/organisation/invitations", data={"email": "x@example.jp", "role": "admin"}
        ).status_code
        == 403
    )


def test_csrf_is_required_on_forms(app, factory):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/signup", data=signup_form())
    assert response.status_code == 400
    assert "form" in response.get_data(as_text=True).lower() or "フォーム" in response.get_data(
        as_text=True
    )


def test_session_cookie_is_secure_by_default(tmp_path, sqlite_template):
    from market import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{sqlite_template}",
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    app.extensions["meguri.db"].dispose()


def test_nul_bytes_in_any_form_are_refused_not_a_crash(client, db):
    response = client.post("/signup", data=signup_form(org_name="東都\x00建設"))
    assert response.status_code == 400
    assert "項目 org_name に使用できない文字が含まれています。" in response.get_data(as_text=True)
    assert db.scalar(select(Organisation)) is None
    refused = client.post("/login", data={"email": "a\x00@example.jp", "password": "x"})
    assert refused.status_code == 400
    assert "項目 email に使用できない文字が含まれています。" in refused.get_data(as_text=True)
