"""Sign-up, sign-in, invitations, API tokens, password changes and resets. No commits here."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from market.accounts.models import (
    ApiToken,
    Invitation,
    LoginSession,
    Organisation,
    OrgKind,
    Partnership,
    Prefecture,
    Role,
    User,
)
from market.core import audit
from market.db import utcnow
from market.errors import Conflict, Forbidden, Invalid, NotFound

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVOICE_NO = re.compile(r"^T\d{13}$")
MIN_PASSWORD = 10
INVITATION_DAYS = 14
RESET_SECONDS = 3600
LOGIN_KEY = "login"  # the cookie session's key to its LoginSession row
# Checked against when an e-mail is unknown, so that timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_user_fields(email: str, password: str, display_name: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not EMAIL.match(email or ""):
        errors["email"] = _("Enter a valid e-mail address.")
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
    if not (display_name or "").strip():
        errors["display_name"] = _("This field is required.")
    elif len(display_name) > 100:
        errors["display_name"] = _("Must be at most %(n)s characters.", n=100)
    return errors


def email_taken(session: Session, email: str) -> bool:
    return (
        session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None
    )


def sign_up(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    org_name: str,
    org_kind: str,
    prefecture_code: str | None = None,
    stockyard_registration_no: str | None = None,
    invoice_registration_no: str | None = None,
) -> User:
    """Create an organisation and its first member, who becomes its admin."""
    email = (email or "").strip()
    errors = check_user_fields(email, password, display_name)
    if not (org_name or "").strip():
        errors["org_name"] = _("This field is required.")
    try:
        kind = OrgKind(org_kind)
    except ValueError:
        errors["org_kind"] = _("Choose the type of your organisation.")
        kind = None
    if kind == OrgKind.stockyard_operator and not (stockyard_registration_no or "").strip():
        errors["stockyard_registration_no"] = _(
            "Registered stockyard operators must give their registration number."
        )
    if invoice_registration_no and not INVOICE_NO.match(invoice_registration_no.strip()):
        errors["invoice_registration_no"] = _("Must be T followed by 13 digits.")
    if "email" not in errors and email_taken(session, email):
        errors["email"] = _("An account with this e-mail address already exists.")
    if errors:
        raise Invalid(errors, status=400)
    org = Organisation(
        name=org_name.strip(),
        kind=kind,
        prefecture_code=prefecture_code or None,
        stockyard_registration_no=(stockyard_registration_no or "").strip() or None,
        invoice_registration_no=(invoice_registration_no or "").strip() or None,
    )
    session.add(org)
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        display_name=display_name.strip(),
        organisation=org,
        role=Role.admin,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = active_user_by_email(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def change_password(session: Session, user: User, current: str, new: str, confirm: str) -> int:
    """Set a new password; every other session of the user ends (the caller signs the
    current one in again) and every API token of theirs is revoked (how many is returned).
    Nothing changes when a field is wrong."""
    errors: dict[str, str] = {}
    if not check_password_hash(user.password_hash, current or ""):
        errors["current_password"] = _("The current password is wrong.")
    return _set_password(session, user, new, confirm, "password.change", errors)


def _set_password(
    session: Session, user: User, new: str, confirm: str, action: str, errors: dict[str, str]
) -> int:
    """Check the new password (and any errors found so far); set it, end every session
    of the user and revoke their API tokens (returns how many), or raise Invalid and
    change nothing."""
    if len(new or "") < MIN_PASSWORD:
        errors["new_password"] = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
    elif new != confirm:
        errors["confirm_password"] = _("The two new passwords differ.")
    if errors:
        raise Invalid(errors, status=400)
    user.password_hash = generate_password_hash(new)
    _end_every_login(session, user)
    # A token copied by whoever knew the old password must not outlive it.
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    audit.record(session, user, action, f"user:{user.id}", api_tokens_revoked=revoked)
    return revoked


def _reset_signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="meguri.password-reset")


def _reset_fingerprint(user: User) -> str:
    # The token names the password it replaces and the session generation: a new password,
    # or signing out everywhere, makes every earlier link useless (one use, no table).
    return digest(f"{user.password_hash}:{user.session_generation}")[:24]


def password_reset_token(user: User, secret_key: str) -> str:
    """A signed link token for resetting this user's password, valid RESET_SECONDS."""
    return _reset_signer(secret_key).dumps({"u": user.id, "f": _reset_fingerprint(user)})


def _link_user(
    session: Session,
    signer: URLSafeTimedSerializer,
    token: str,
    max_age: int,
    key: str,
    fingerprint,
) -> User:
    """The active user a signed link token names, if ``fingerprint(user)`` still equals the
    one signed under ``key``; NotFound if forged, used or stale, Conflict if too old."""
    try:
        data = signer.loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise Conflict(_("This link has expired; ask for a new one.")) from None
    except BadSignature:
        raise NotFound(_("This link is not valid or has already been used.")) from None
    user = session.get(User, data["u"])  # a payload we signed ourselves
    if user is None or not user.active or data.get(key) != fingerprint(user):
        raise NotFound(_("This link is not valid or has already been used."))
    return user


def user_for_reset(session: Session, token: str, secret_key: str) -> User:
    """The user a reset token is for; NotFound if it is forged or used, Conflict if old."""
    return _link_user(
        session, _reset_signer(secret_key), token, RESET_SECONDS, "f", _reset_fingerprint
    )


def reset_password(session: Session, user: User, new: str, confirm: str) -> int:
    """Set the password of the user a checked reset link (user_for_reset) is for; every
    session of the user ends and their API tokens are revoked (how many is returned)."""
    return _set_password(session, user, new, confirm, "password.reset", {})


VERIFY_SECONDS = 7 * 24 * 3600


def _verify_signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="meguri.email-verification")


def _address_fingerprint(user: User) -> str:
    return digest(user.email.lower())[:24]


def email_verification_token(user: User, secret_key: str) -> str:
    """A signed link token proving the user reads mail at their address (7 days; it names
    the address, so it dies if the address changes)."""
    return _verify_signer(secret_key).dumps({"u": user.id, "e": _address_fingerprint(user)})


def verify_email(session: Session, token: str, secret_key: str) -> User:
    """Mark the address of the token's user as verified (again is harmless)."""
    user = _link_user(
        session, _verify_signer(secret_key), token, VERIFY_SECONDS, "e", _address_fingerprint
    )
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record(session, user, "email.verified", f"user:{user.id}")
        session.flush()
    return user


def active_members(session: Session, org_ids) -> list[User]:
    """The active users of the given organisations (the people a notice about them reaches);
    whether one may be mailed is ``User.mailable``."""
    org_ids = set(org_ids) - {None}
    if not org_ids:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.organisation_id.in_(org_ids), User.active.is_(True))
            .order_by(User.id)
        )
    )


def active_user_by_email(session: Session, email: str) -> User | None:
    user = session.scalar(
        select(User).where(func.lower(User.email) == (email or "").strip().lower())
    )
    return user if user is not None and user.active else None


def start_login(session: Session, user: User) -> str:
    """Record a new signed-in browser; returns the key its session cookie carries (only
    the key's hash is stored)."""
    key = secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, key_hash=digest(key)))
    session.flush()
    return key


def login_is_open(session: Session, user_id: int, key: object) -> bool:
    """Whether the browser holding ``key`` is still signed in as this user."""
    if not isinstance(key, str) or not key:
        return False
    found = session.scalar(
        select(LoginSession.id).where(
            LoginSession.key_hash == digest(key), LoginSession.user_id == user_id
        )
    )
    return found is not None


def end_login(session: Session, key: object) -> None:
    """Sign one browser out on the server: its cookie, and every copy of it, stops working."""
    if isinstance(key, str) and key:
        session.execute(delete(LoginSession).where(LoginSession.key_hash == digest(key)))


def _end_every_login(session: Session, user: User) -> None:
    # The generation makes old cookies fail at once; deleting the rows keeps the table to
    # the browsers that are really signed in.
    user.session_generation += 1
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def end_other_sessions(session: Session, user: User) -> None:
    """Every session signed in so far stops working at its next request (a lost phone,
    a shared computer); the caller signs the current one in again."""
    _end_every_login(session, user)
    audit.record(session, user, "sessions.end", f"user:{user.id}")


def create_site_admin(session: Session, email: str, password: str, display_name: str) -> User:
    errors = check_user_fields(email, password, display_name)
    if "email" not in errors and email_taken(session, email):
        errors["email"] = _("An account with this e-mail address already exists.")
    if errors:
        raise Invalid(errors, status=400)
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        display_name=display_name,
        is_site_admin=True,
        role=Role.member,
        email_verified_at=utcnow(),
    )  # the operator vouches
    session.add(user)
    session.flush()
    audit.record(session, "cli", "site_admin.create", f"user:{user.id}", email=email)
    return user


def invite(session: Session, inviter: User, email: str, role: str) -> tuple[Invitation, str]:
    """Returns the invitation and its one-time token (only its hash is stored)."""
    if not inviter.is_org_admin or inviter.organisation_id is None:
        raise Forbidden(_("Only organisation admins may invite members."))
    email = (email or "").strip()
    errors = {}
    if not EMAIL.match(email):
        errors["email"] = _("Enter a valid e-mail address.")
    elif email_taken(session, email):
        errors["email"] = _("An account with this e-mail address already exists.")
    if role not in {r.value for r in Role}:
        errors["role"] = _("Choose a role.")
    if errors:
        raise Invalid(errors, status=400)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organisation_id=inviter.organisation_id,
        email=email,
        role=Role(role),
        token_hash=digest(token),
        invited_by_id=inviter.id,
        expires_at=utcnow() + dt.timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session, inviter, "member.invite", f"invitation:{invitation.id}", email=email, role=role
    )
    return invitation, token


def open_invitation(session: Session, token: str) -> Invitation:
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == digest(token or ""))
    )
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound(_("This invitation is not valid or has already been used."))
    if invitation.expires_at < utcnow():
        raise Conflict(_("This invitation has expired; ask for a new one."))
    return invitation


def accept_invitation(session: Session, token: str, password: str, display_name: str) -> User:
    invitation = open_invitation(session, token)
    errors = check_user_fields(invitation.email, password, display_name)
    errors.pop("email", None)
    if email_taken(session, invitation.email):
        errors["email"] = _("An account with this e-mail address already exists.")
    if errors:
        raise Invalid(errors, status=400)
    user = User(
        email=invitation.email,
        password_hash=generate_password_hash(password),
        display_name=display_name.strip(),
        organisation_id=invitation.organisation_id,
        role=invitation.role,
        email_verified_at=utcnow(),
    )  # the invitation came to this address
    invitation.accepted_at = utcnow()
    session.add(user)
    session.flush()
    return user


def issue_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid({"name": _("Give the token a name of at most 100 characters.")}, status=400)
    secret = "mgr_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(secret))
    session.add(token)
    session.flush()
    audit.record(session, user, "api_token.create", f"api_token:{token.id}", name=name)
    return token, secret


def user_for_token(session: Session, secret: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such token."))
    token.revoked_at = utcnow()
    audit.record(session, user, "api_token.revoke", f"api_token:{token.id}")


def add_partner(session: Session, user: User, operator_id: int | None) -> Partnership:
    """A municipality names a reuse operator as partner (first access to its items)."""
    org = user.organisation
    if org is None or org.kind != OrgKind.municipality or not user.is_org_admin:
        raise Forbidden(_("Only a municipality's admins can choose partner operators."))
    operator = session.get(Organisation, operator_id) if operator_id else None
    if operator is None or operator.kind != OrgKind.reuse_operator:
        raise Invalid({"operator_id": _("Choose a reuse operator.")}, status=400)
    existing = session.scalar(
        select(Partnership).where(
            Partnership.municipality_id == org.id, Partnership.operator_id == operator.id
        )
    )
    if existing is not None:
        return existing
    partnership = Partnership(municipality_id=org.id, operator_id=operator.id)
    session.add(partnership)
    session.flush()
    audit.record(session, user, "partnership.add", f"organisation:{operator.id}")
    return partnership


def remove_partner(session: Session, user: User, partnership_id: int) -> None:
    partnership = session.get(Partnership, partnership_id)
    if partnership is None or partnership.municipality_id != user.organisation_id:
        raise NotFound(_("No such partnership."))
    if not user.is_org_admin:
        raise Forbidden(_("Only a municipality's admins can choose partner operators."))
    audit.record(session, user, "partnership.remove", f"organisation:{partnership.operator_id}")
    session.delete(partnership)
    session.flush()


# --- the organisation's own details and members (its admins) ---------------------------


def _admin_of_org(user: User) -> Organisation:
    if user.organisation is None or not user.is_org_admin:
        raise Forbidden(_("Only your organisation's admins can do this."))
    return user.organisation


def update_organisation(session: Session, user: User, data) -> Organisation:
    """Name, prefecture, address and registration numbers. Invoices already issued keep
    the details they were issued with (each stores its own snapshot)."""
    org = _admin_of_org(user)
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = _("This field is required.")
    elif len(name) > 200:
        errors["name"] = _("Must be at most %(n)s characters.", n=200)
    prefecture = str(data.get("prefecture_code") or "").strip() or None
    if prefecture is not None and session.get(Prefecture, prefecture) is None:
        errors["prefecture_code"] = _("Choose a prefecture.")
    address = str(data.get("address") or "").strip() or None
    if address and len(address) > 300:
        errors["address"] = _("Must be at most %(n)s characters.", n=300)
    invoice_no = str(data.get("invoice_registration_no") or "").strip() or None
    if invoice_no and not INVOICE_NO.match(invoice_no):
        errors["invoice_registration_no"] = _("Must be T followed by 13 digits.")
    yard_no = str(data.get("stockyard_registration_no") or "").strip() or None
    if org.kind == OrgKind.stockyard_operator and not yard_no:
        errors["stockyard_registration_no"] = _(
            "Registered stockyard operators must give their registration number."
        )
    elif yard_no and len(yard_no) > 40:
        errors["stockyard_registration_no"] = _("Must be at most %(n)s characters.", n=40)
    if errors:
        raise Invalid(errors, status=400)
    new = {
        "name": name,
        "prefecture_code": prefecture,
        "address": address,
        "invoice_registration_no": invoice_no,
        "stockyard_registration_no": yard_no,
    }
    changed = {field: value for field, value in new.items() if getattr(org, field) != value}
    for field, value in changed.items():
        setattr(org, field, value)
    if changed:
        audit.record(
            session, user, "organisation.update", f"organisation:{org.id}", fields=sorted(changed)
        )
    session.flush()
    return org


def _member(session: Session, admin: User, member_id: int) -> User:
    org = _admin_of_org(admin)
    member = session.get(User, member_id)
    if member is None or member.organisation_id != org.id:
        raise NotFound(_("No such member."))
    return member


def _other_active_admins(session: Session, member: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.organisation_id == member.organisation_id,
                User.role == Role.admin,
                User.active.is_(True),
                User.id != member.id,
            )
        )
        or 0
    )


def set_member_role(session: Session, admin: User, member_id: int, role: object) -> User:
    """Make a member an admin or a plain member; an organisation always keeps an admin."""
    member = _member(session, admin, member_id)
    try:
        new_role = Role(str(role))
    except ValueError:
        raise Invalid({"role": _("Choose a role.")}, status=400) from None
    if new_role == member.role:
        return member
    if new_role != Role.admin and member.active and not _other_active_admins(session, member):
        raise Conflict(
            _("The organisation needs at least one active admin: make someone else admin first."),
            field="role",
        )
    audit.record(session, admin, "member.role", f"user:{member.id}", role=new_role.value)
    member.role = new_role
    session.flush()
    return member


def set_member_active(session: Session, admin: User, member_id: int, active: bool) -> User:
    """Deactivate a member who left (signed out everywhere, API tokens refused, mails
    stopped; their records stay), or take them back. Not yourself, not the last admin."""
    member = _member(session, admin, member_id)
    if member.active == active:
        return member
    if not active:
        if member.id == admin.id:
            raise Conflict(_("You cannot deactivate yourself; ask another admin."), field="member")
        if member.role == Role.admin and not _other_active_admins(session, member):
            raise Conflict(
                _(
                    "The organisation needs at least one active admin: make someone else admin first."
                ),
                field="member",
            )
        _end_every_login(session, member)  # every signed-in session of theirs ends now
    audit.record(
        session, admin, "member.activate" if active else "member.deactivate", f"user:{member.id}"
    )
    member.active = active
    session.flush()
    return member
