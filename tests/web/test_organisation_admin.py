"""An organisation's admins keep its details (invoice registration number included) and
its members: roles, and deactivating someone who left. An organisation never loses its
last admin; a deactivated member is signed out everywhere and can use nothing."""

from __future__ import annotations

from sqlalchemy import select

from market.accounts.models import ApiToken, Organisation, Role, User
from market.core.models import AuditEvent
from tests.conftest import PASSWORD
from tests.web.test_account_security import read


def signed_in(app, email):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    client.post("/lang/en", data={"next": "/"})
    return client


def colleague(
    factory, org_id: int, email: str = "colleague@example.jp", role: Role = Role.member
) -> int:
    return factory.member(org_id, email, display_name="同僚", role=role).id


def org_row(app, org_id) -> Organisation:
    return read(app, select(Organisation).where(Organisation.id == org_id))[0]


def test_admin_edits_the_details_bad_fields_are_named_and_nothing_changes(app, factory):
    admin = factory.user()
    client = signed_in(app, admin.email)
    assert 'id="edit-organisation"' in client.get("/organisation").get_data(as_text=True)
    good = {
        "name": "東都建設株式会社",
        "prefecture_code": "14",
        "address": "横浜市中区1-1",
        "invoice_registration_no": "T1234567890123",
    }
    assert client.post("/organisation/edit", data=good).status_code == 302
    org = org_row(app, admin.org_id)
    assert (org.name, org.prefecture_code, org.address, org.invoice_registration_no) == (
        "東都建設株式会社",
        "14",
        "横浜市中区1-1",
        "T1234567890123",
    )
    assert "organisation.update" in read(app, select(AuditEvent.action))

    bad = {
        "name": "",
        "prefecture_code": "99",
        "invoice_registration_no": "1234",
        "address": "x" * 301,
    }
    response = client.post("/organisation/edit", data=bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in ("name", "prefecture_code", "invoice_registration_no", "address"):
        assert f'id="{field}-error"' in page or f"{field}-error" in page, field
    assert org_row(app, admin.org_id).name == "東都建設株式会社"  # nothing half-written


def test_a_stockyard_operator_keeps_its_registration_number(app, factory):
    admin = factory.user("stockyard_operator")
    client = signed_in(app, admin.email)
    response = client.post(
        "/organisation/edit", data={"name": "横浜ストックヤード", "stockyard_registration_no": ""}
    )
    assert response.status_code == 400 and "registration number" in response.get_data(as_text=True)
    assert org_row(app, admin.org_id).stockyard_registration_no == "SY-13-0001"


def test_plain_members_manage_nothing(app, factory):
    admin = factory.user()
    member_id = colleague(factory, admin.org_id)
    member = signed_in(app, "colleague@example.jp")
    assert member.get("/organisation/edit").status_code == 403
    assert member.post("/organisation/edit", data={"name": "乗っ取り"}).status_code == 403
    assert member.post(f"/organisation/members/{admin.id}/deactivate").status_code == 403
    assert (
        member.post(f"/organisation/members/{member_id}/role", data={"role": "admin"}).status_code
        == 403
    )
    assert read(app, select(User.role).where(User.id == member_id)) == [Role.member]
    stranger = signed_in(app, factory.user().email)  # an admin, of another organisation
    assert stranger.post(f"/organisation/members/{member_id}/deactivate").status_code == 404


def test_deactivating_ends_every_session_and_token_reactivating_lets_them_back(app, factory):
    admin = factory.user()
    member_id = colleague(factory, admin.org_id)
    boss, member = signed_in(app, admin.email), signed_in(app, "colleague@example.jp")
    token = member.post("/account/tokens", data={"name": "発注システム連携"})
    secret = token.get_data(as_text=True).split('id="new-token">', 1)[1].split("<", 1)[0].strip()
    assert (
        app.test_client()
        .get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )

    assert boss.post(f"/organisation/members/{member_id}/deactivate").status_code == 302
    assert member.get("/account/security").status_code == 302  # signed out: sent to sign in
    assert (
        app.test_client()
        .post("/login", data={"email": "colleague@example.jp", "password": PASSWORD})
        .status_code
        != 302
    )
    assert (
        app.test_client()
        .get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 401
    )
    assert "deactivated" in boss.get("/organisation").get_data(as_text=True)
    assert "member.deactivate" in read(app, select(AuditEvent.action))

    assert boss.post(f"/organisation/members/{member_id}/activate").status_code == 302
    assert signed_in(app, "colleague@example.jp").get("/account/security").status_code == 200
    assert read(app, select(ApiToken.revoked_at)) == [
        None
    ]  # the token works again with the account


def test_the_organisation_always_keeps_an_active_admin(app, factory):
    admin = factory.user()
    boss = signed_in(app, admin.email)
    alone = boss.post(f"/organisation/members/{admin.id}/role", data={"role": "member"})
    assert alone.status_code == 409 and "at least one active admin" in alone.get_data(as_text=True)
    itself = boss.post(f"/organisation/members/{admin.id}/deactivate")
    assert itself.status_code == 409 and "cannot deactivate yourself" in itself.get_data(
        as_text=True
    )
    unknown = boss.post(f"/organisation/members/{admin.id}/role", data={"role": "owner"})
    assert unknown.status_code == 400 and "Choose a role." in unknown.get_data(as_text=True)

    second = colleague(factory, admin.org_id, "second@example.jp", Role.member)
    assert (
        boss.post(f"/organisation/members/{second}/role", data={"role": "admin"}).status_code == 302
    )
    assert (
        boss.post(f"/organisation/members/{admin.id}/role", data={"role": "member"}).status_code
        == 302
    )
    assert read(
        app, select(User.role).where(User.id.in_([admin.id, second])).order_by(User.id)
    ) == [Role.member, Role.admin]
    # The new sole admin cannot be deactivated by anyone: there is no other admin left to do it.
    assert boss.post(f"/organisation/members/{second}/deactivate").status_code == 403
