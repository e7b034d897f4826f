"""The accounts pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from market.core.forms import Form, RowId, Text


class LoginForm(Form):
    email: Text(320) = ""
    password: Text(1000) = ""


class SignupForm(Form):
    email: Text(320) = ""
    password: Text(1000) = ""
    display_name: Text(100) = ""
    org_name: Text(200) = ""
    org_kind: Text(40) = ""
    prefecture_code: Text(2) = ""
    stockyard_registration_no: Text(40) = ""
    invoice_registration_no: Text(14) = ""


class AcceptInvitationForm(Form):
    password: Text(1000) = ""
    display_name: Text(100) = ""


class InviteForm(Form):
    email: Text(320) = ""
    role: Text(20) = "member"


class TokenForm(Form):
    name: Text(100) = ""


class PasswordChangeForm(Form):
    current_password: Text(1000) = ""
    new_password: Text(1000) = ""
    confirm_password: Text(1000) = ""


class PasswordResetForm(Form):
    new_password: Text(1000) = ""
    confirm_password: Text(1000) = ""


class ForgotPasswordForm(Form):
    email: Text(320) = ""


class PartnerForm(Form):
    operator_id: RowId = None


class OrganisationForm(Form):
    # Sizes here only guard the request; the service names each field's own limit.
    name: Text(1000) = ""
    prefecture_code: Text(20) = ""
    address: Text(1000) = ""
    invoice_registration_no: Text(100) = ""
    stockyard_registration_no: Text(1000) = ""


class MemberRoleForm(Form):
    role: Text(100) = ""
