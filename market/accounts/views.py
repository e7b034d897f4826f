"""Sign-in, sign-up, invitations, organisation page, API tokens and account security
(password change and reset by mail, signing out everywhere)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from market.accounts import services
from market.accounts.forms import (
    AcceptInvitationForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    MemberRoleForm,
    OrganisationForm,
    PartnerForm,
    PasswordChangeForm,
    PasswordResetForm,
    SignupForm,
    TokenForm,
)
from market.accounts.models import (
    ApiToken,
    Invitation,
    Organisation,
    OrgKind,
    Partnership,
    Prefecture,
    User,
)
from market.core.forms import Form, NextForm, form_values, parse_form
from market.core.limits import LOGIN, SIGNUP, TOKEN_CREATE, limiter
from market.core.writes import commit, submit
from market.errors import Conflict, Invalid
from market.mail import send_later
from market.services import db_session

bp = Blueprint("accounts", __name__)


def _start_session(user: User) -> None:
    """Sign ``user`` in on this browser and commit the record of it (after the work it
    follows, if any, is committed): the server knows every signed-in browser, so signing
    out ends the session for every copy of the cookie."""
    key = commit(lambda s: services.start_login(s, user))
    # A fresh session on sign-in: nothing set before it (fixation) survives.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[services.LOGIN_KEY] = key
    login_user(user)


def _safe_next(target: str | None) -> str:
    """A path on this site, never another host (``//host`` or an absolute URL)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("site.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN, methods=["POST"])
def login():
    error = None
    if request.method == "POST":
        form, _errors = parse_form(LoginForm)
        user = services.authenticate(db_session(), form.email, form.password) if form else None
        if user is not None:
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("E-mail address or password is wrong.")
    return render_template("accounts/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    commit(lambda s: services.end_login(s, session.get(services.LOGIN_KEY)))
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("site.home"))


def _prefectures():
    return db_session().scalars(select(Prefecture).order_by(Prefecture.code)).all()


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUP, methods=["POST"])
def signup():
    errors: dict[str, str] = {}
    if request.method == "POST":

        def write(s, form: SignupForm) -> User:
            user = services.sign_up(
                s,
                email=form.email,
                password=form.password,
                display_name=form.display_name,
                org_name=form.org_name,
                org_kind=form.org_kind,
                prefecture_code=form.prefecture_code or None,
                stockyard_registration_no=form.stockyard_registration_no,
                invoice_registration_no=form.invoice_registration_no,
            )
            _send_verification(s, user)
            return user

        done = submit(SignupForm, write, refuse=(Invalid,))
        errors, user = done.errors, done.result
        if done.ok:
            _start_session(user)
            flash(
                _(
                    "Welcome to Meguri. Your organisation has been created. We sent a link to %(email)s: "
                    "open it to confirm the address.",
                    email=user.email,
                ),
                "success",
            )
            return redirect(url_for("catalog.new_listing"))
    return render_template(
        "accounts/signup.html",
        errors=errors,
        org_kinds=list(OrgKind),
        prefectures=_prefectures(),
        form=form_values(SignupForm),
    ), (400 if errors else 200)


def _organisation_page(errors: dict | None = None, status: int = 200):
    if current_user.organisation is None:
        abort(404)
    s = db_session()
    invitations = s.scalars(
        select(Invitation).where(
            Invitation.organisation_id == current_user.organisation_id,
            Invitation.accepted_at.is_(None),
        )
    ).all()
    members = s.scalars(
        select(User)
        .where(User.organisation_id == current_user.organisation_id)
        .order_by(User.active.desc(), User.id)
    ).all()
    return render_template(
        "accounts/organisation.html",
        org=current_user.organisation,
        members=members,
        invitations=invitations,
        errors=errors or {},
    ), status


def _send_verification(s, user: User) -> None:
    token = services.email_verification_token(user, current_app.config["SECRET_KEY"])
    link = url_for("accounts.verify_email", token=token, _external=True)
    send_later(
        s,
        user.email,
        _("Meguri: confirm your e-mail address"),
        _(
            "Open this link within 7 days to confirm that %(email)s is yours:\n%(link)s\n\n"
            "Until then Meguri sends you no notifications by mail.",
            email=user.email,
            link=link,
        ),
    )


@bp.get("/account/verify/<token>")
def verify_email(token: str):
    commit(lambda s: services.verify_email(s, token, current_app.config["SECRET_KEY"]))
    flash(_("Thank you: your e-mail address is confirmed."), "success")
    return redirect(url_for("site.home"))


@bp.post("/account/verify/resend")
@login_required
@limiter.limit(SIGNUP, key_func=lambda: f"user:{current_user.id}")
def resend_verification():
    if current_user.email_verified_at is None:
        commit(lambda s: _send_verification(s, current_user))
        flash(_("We sent a new link to %(email)s.", email=current_user.email), "success")
    form, _errors = parse_form(NextForm)
    return redirect(_safe_next(form.next if form else None))


@bp.get("/organisation")
@login_required
def organisation():
    return _organisation_page()


@bp.route("/organisation/edit", methods=["GET", "POST"])
@login_required
def edit_organisation():
    if current_user.organisation is None:
        abort(404)
    if not current_user.is_org_admin:
        abort(403)
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = current_user._get_current_object()
        errors = submit(
            OrganisationForm,
            lambda s, form: services.update_organisation(s, user, form.sent()),
            refuse=(Invalid,),
        ).errors
        if not errors:
            flash(_("Organisation details saved."), "success")
            return redirect(url_for("accounts.organisation"))
    return render_template(
        "accounts/organisation_edit.html",
        org=current_user.organisation,
        errors=errors,
        prefectures=_prefectures(),
        form=form_values(OrganisationForm) if errors else None,
    ), (400 if errors else 200)


def _member_change(change, done: str, form: type[Form] = Form):
    """One change to a member by an admin: commit and go back, or show the refusal."""
    admin = current_user._get_current_object()
    outcome = submit(form, lambda s, values: change(s, admin, values), refuse=(Invalid, Conflict))
    if not outcome.ok:
        return _organisation_page(outcome.errors, outcome.status)
    flash(done, "success")
    return redirect(url_for("accounts.organisation"))


@bp.post("/organisation/members/<int:member_id>/role")
@login_required
def member_role(member_id: int):
    return _member_change(
        lambda s, admin, form: services.set_member_role(s, admin, member_id, form.role),
        _("Role changed."),
        MemberRoleForm,
    )


@bp.post("/organisation/members/<int:member_id>/deactivate")
@login_required
def deactivate_member(member_id: int):
    return _member_change(
        lambda s, admin, _form: services.set_member_active(s, admin, member_id, False),
        _("Member deactivated: signed out everywhere, and no longer able to sign in."),
    )


@bp.post("/organisation/members/<int:member_id>/activate")
@login_required
def activate_member(member_id: int):
    return _member_change(
        lambda s, admin, _form: services.set_member_active(s, admin, member_id, True),
        _("Member can sign in again."),
    )


@bp.post("/organisation/invitations")
@login_required
def invite():
    def write(s, form: InviteForm) -> Invitation:
        invitation, token = services.invite(s, current_user, form.email, form.role)
        link = url_for("accounts.accept", token=token, _external=True)
        send_later(
            s,
            invitation.email,
            _("Invitation to %(org)s on Meguri", org=current_user.organisation.name),
            _(
                "%(name)s invites you to join %(org)s on Meguri: %(link)s",
                name=current_user.display_name,
                org=current_user.organisation.name,
                link=link,
            ),
        )
        return invitation

    done = submit(InviteForm, write, refuse=(Invalid,))
    if not done.ok:
        return _organisation_page(done.errors, 400)
    flash(_("Invitation sent to %(email)s.", email=done.result.email), "success")
    return redirect(url_for("accounts.organisation"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    s = db_session()
    invitation = services.open_invitation(s, token)
    errors: dict[str, str] = {}
    if request.method == "POST":
        done = submit(
            AcceptInvitationForm,
            lambda s, form: services.accept_invitation(s, token, form.password, form.display_name),
            refuse=(Invalid,),
        )
        errors = done.errors
        if done.ok:
            _start_session(done.result)
            return redirect(url_for("site.home"))
    return render_template("accounts/accept.html", invitation=invitation, errors=errors), (
        400 if errors else 200
    )


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
@limiter.limit(TOKEN_CREATE, methods=["POST"], key_func=lambda: f"user:{current_user.id}")
def tokens():
    s = db_session()
    secret, errors = None, {}
    if request.method == "POST":
        done = submit(
            TokenForm,
            lambda s, form: services.issue_api_token(s, current_user, form.name),
            refuse=(Invalid,),
        )
        errors = done.errors
        secret = done.result[1] if done.ok else None
    rows = s.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id)
    ).all()
    return render_template("accounts/tokens.html", tokens=rows, secret=secret, errors=errors)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    commit(lambda s: services.revoke_api_token(s, current_user, token_id))
    return redirect(url_for("accounts.tokens"))


def _flash_tokens_revoked(revoked: int) -> None:
    if revoked:
        flash(
            _(
                "API tokens revoked with the old password: %(n)s. Issue new ones for the "
                "programs that used them.",
                n=revoked,
            ),
            "warning",
        )


@bp.route("/account/security", methods=["GET", "POST"])
@login_required
@limiter.limit(LOGIN, methods=["POST"], key_func=lambda: f"user:{current_user.id}")
def security():
    errors = {}
    if request.method == "POST":
        user = current_user._get_current_object()
        done = submit(
            PasswordChangeForm,
            lambda s, form: services.change_password(
                s, user, form.current_password, form.new_password, form.confirm_password
            ),
            refuse=(Invalid,),
        )
        errors, revoked = done.errors, done.result
        if done.ok:
            _start_session(user)
            flash(_("Password changed. You were signed out everywhere else."), "success")
            _flash_tokens_revoked(revoked)
            return redirect(url_for("accounts.security"))
    return render_template(
        "accounts/security.html", errors=errors, min_password=services.MIN_PASSWORD
    ), (400 if errors else 200)


@bp.post("/account/sessions/end")
@login_required
def end_sessions():
    user = current_user._get_current_object()
    commit(lambda s: services.end_other_sessions(s, user))
    _start_session(user)
    flash(_("Signed out on every other device and browser."), "success")
    return redirect(url_for("accounts.security"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(SIGNUP, methods=["POST"])
def forgot_password():
    if request.method == "POST":
        form, _errors = parse_form(ForgotPasswordForm)

        def send_link(s) -> None:
            user = services.active_user_by_email(s, form.email) if form else None
            if user is None:
                return
            token = services.password_reset_token(user, current_app.config["SECRET_KEY"])
            link = url_for("accounts.reset_password", token=token, _external=True)
            send_later(
                s,
                user.email,
                _("Reset your Meguri password"),
                _(
                    "Someone, we hope you, asked to reset the password of %(email)s on Meguri. Open this "
                    "link within an hour to choose a new one: %(link)s If it was not you, ignore this "
                    "message: your password stays as it is.",
                    email=user.email,
                    link=link,
                ),
            )

        commit(send_link)
        # The same answer whether or not the address has an account: nothing to probe.
        flash(
            _("If an account exists for this address, a link to reset its password is on its way."),
            "success",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(LOGIN, methods=["POST"])
def reset_password(token: str):
    s = db_session()
    user = services.user_for_reset(s, token, current_app.config["SECRET_KEY"])
    errors = {}
    if request.method == "POST":
        done = submit(
            PasswordResetForm,
            lambda s, form: services.reset_password(
                s, user, form.new_password, form.confirm_password
            ),
            refuse=(Invalid,),
        )
        errors, revoked = done.errors, done.result
        if done.ok:
            flash(_("Password changed. Sign in with the new one."), "success")
            _flash_tokens_revoked(revoked)
            return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/reset.html", email=user.email, errors=errors, min_password=services.MIN_PASSWORD
    ), (400 if errors else 200)


@bp.route("/organisation/partners", methods=["GET", "POST"])
@login_required
def partners():
    org = current_user.organisation
    if org is None or org.kind != OrgKind.municipality:
        abort(404)
    s = db_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = submit(
            PartnerForm,
            lambda s, form: services.add_partner(s, current_user, form.operator_id),
            refuse=(Invalid,),
        ).errors
        if not errors:
            return redirect(url_for("accounts.partners"))
    current = s.scalars(select(Partnership).where(Partnership.municipality_id == org.id)).all()
    taken = {p.operator_id for p in current}
    operators = [
        o
        for o in s.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.reuse_operator)
            .order_by(Organisation.name)
        )
        if o.id not in taken
    ]
    return render_template(
        "accounts/partners.html", partnerships=current, operators=operators, errors=errors
    ), (400 if errors else 200)


@bp.post("/organisation/partners/<int:partnership_id>/remove")
@login_required
def remove_partner(partnership_id: int):
    commit(lambda s: services.remove_partner(s, current_user, partnership_id))
    return redirect(url_for("accounts.partners"))
