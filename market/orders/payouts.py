"""Card payouts to payees: Stripe Express onboarding of an organisation, and the provider's
word on whether its connected account can take charges.
"""

from __future__ import annotations

import dataclasses

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import payments
from market.accounts.models import Organisation, User
from market.core import audit
from market.errors import Forbidden, NotFound
from market.orders import billing
from market.orders.moves import PaymentFailed


def payout_onboarding_url(
    session: Session, user: User, *, refresh_url: str, return_url: str
) -> str:
    """Card payouts for the user's organisation (its admins): create its Stripe Express
    account if it has none, store the account id, and return a fresh onboarding link (single
    use, minutes long: redirect to it at once, never store it)."""
    org = user.organisation
    if org is None or not user.is_org_admin:
        raise Forbidden(_("Only your organisation's admins can do this."))
    gw = billing.gateway()
    if not isinstance(gw, payments.OnboardsPayees):
        raise NotFound(_("Card payments are not enabled on this site."))
    try:
        # The account being set up, not only one that already takes charges (billing.party)
        party = dataclasses.replace(billing.party(org), connected_account_id=org.stripe_account_id)
        link = gw.onboarding_link(party, refresh_url=refresh_url, return_url=return_url)
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    if org.stripe_account_id != link.account_id:
        org.stripe_account_id = link.account_id
        audit.record(
            session, user, "payouts.account", f"organisation:{org.id}", account=link.account_id
        )
    session.flush()
    return link.url


def record_account(session: Session, update: payments.AccountUpdate) -> None:
    """Stripe says whether a payee's connected account can take charges; card payments to
    it use the account from then on (see ``billing.party``)."""

    org = session.scalar(
        select(Organisation)
        .where(Organisation.stripe_account_id == update.account_id)
        .with_for_update()
    )
    if org is not None and org.stripe_charges_enabled != update.charges_enabled:
        org.stripe_charges_enabled = update.charges_enabled
        audit.record(
            session,
            "stripe",
            "payouts.charges_enabled" if update.charges_enabled else "payouts.charges_disabled",
            f"organisation:{org.id}",
            account=update.account_id,
        )
        session.flush()
