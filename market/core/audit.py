"""Records administrative actions (invitations, tokens, partnerships, matching runs,
admin accounts) in the append-only audit log."""

from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from market.core.models import AuditEvent


def record(session: Session, actor, action: str, target: str = "", **details) -> AuditEvent:
    """Add an audit event to the current unit of work (it commits with the action)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None)
        or (actor if isinstance(actor, str) else "system"),
        organisation_id=getattr(actor, "organisation_id", None),
        action=action,
        target=target,
        details={k: v for k, v in details.items() if v is not None},
        remote_addr=request.remote_addr if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    session.add(event)
    return event
