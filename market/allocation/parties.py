"""The parties to a proposal and its deal (supplier, receiver, yard operator, plant
operator), and telling them."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from market.accounts.services import active_members
from market.allocation.models import Deal, DealParty, Proposal
from market.catalog.models import Listing
from market.notifications.services import notify_users

ROLE_OF = (("supply", "supplier"), ("demand", "receiver"), ("via", "yard"))


ROLE_LABELS = {
    "supplier": _l("supplier"),
    "receiver": _l("receiver"),
    "yard": _l("stockyard operator"),
    "plant": _l("plant operator"),
}


def orgs_of(proposal: Proposal) -> list[tuple[int, str, Listing | None]]:
    """(organisation, role, its listing) for every party to one flow: supplier, receiver,
    yard operator, plant operator (whose plant is no listing)."""
    out = [
        (listing.organisation_id, role, listing)
        for attr, role in ROLE_OF
        if (listing := getattr(proposal, attr)) is not None
    ]
    if proposal.conversion is not None:
        out.append((proposal.conversion.plant.organisation_id, "plant", None))
    return out


def add_parties(session: Session, deal: Deal) -> None:
    """Every organisation with a listing in the deal, once, with the roles it plays."""
    roles: dict[int, list[str]] = {}
    for proposal in deal.proposals:
        for org, role, _listing in orgs_of(proposal):
            if role not in roles.setdefault(org, []):
                roles[org].append(role)
    for org_id, played in sorted(roles.items()):
        session.add(DealParty(deal=deal, organisation_id=org_id, roles=",".join(played)))
    session.flush()


def announce(session: Session, deal: Deal) -> None:
    """Each party's members are told in-app of the new deal and their part in it (a yard
    operator too); no mail, since a nightly run may propose many."""
    for party in deal.parties:
        first, own = next(
            (p, listing)
            for p in deal.proposals
            for org, _role, listing in orgs_of(p)
            if org == party.organisation_id
        )
        roles = party.roles

        def words(_user, roles=roles, first=first):
            message = _(
                "New match proposal #%(id)s (%(kind)s): your part is %(roles)s. Accept or "
                "decline it on the proposal page.",
                id=first.id,
                kind=_(deal.kind),
                roles=", ".join(str(ROLE_LABELS[r]) for r in roles.split(",")),
            )
            return message, None

        notify_users(
            session,
            active_members(session, [party.organisation_id]),
            words,
            listing_id=own.id if own is not None else None,
        )


def tell_parties(session: Session, proposal: Proposal) -> None:
    """In-app (and by mail) to each party's members, in their language, with the reason."""
    parts = proposal.deal.proposals if proposal.deal is not None else [proposal]
    told: set[int] = set()
    for org_id, _role, listing in (x for part in parts for x in orgs_of(part)):
        if org_id in told:
            continue
        told.add(org_id)
        reason = proposal.reason

        def words(_user, reason=reason):
            if proposal.state == "expired":
                message = _(
                    "Match proposal #%(id)s expired: %(reason)s", id=proposal.id, reason=reason
                )
            else:
                message = _(
                    "Match proposal #%(id)s changed: %(reason)s", id=proposal.id, reason=reason
                )
            return message, message

        notify_users(
            session,
            active_members(session, [org_id]),
            words,
            listing_id=listing.id if listing is not None else None,
        )
