"""Synonyms as editable data: site administrators add, change and remove groups of words
that search treats as one, with where they come from. After commit the index gets the
new set (the embedded engine stores it beside its tables, Meilisearch as a setting)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

import search
from market.accounts.models import User
from market.core import audit
from market.db import after_commit
from market.errors import Forbidden, Invalid, NotFound
from market.finder.index import get_index, synonyms_from
from market.finder.models import SynonymGroup

log = logging.getLogger(__name__)
MAX_TERMS = 20
MAX_TERM_CHARS = 40
_SPLIT = re.compile(r"[\n,、，]+")


def push(app, synonyms: search.Synonyms) -> None:
    """Give the index the synonyms (after commit; a failure is logged, and the next
    start-up or edit pushes them again)."""
    try:
        get_index(app).set_synonyms(synonyms)
    except Exception:  # noqa: BLE001 - the index being down must not fail the edit
        log.exception("could not give the search index its synonyms")


def _parse(data: Mapping[str, object]) -> tuple[list[str], bool, str]:
    errors: dict[str, str] = {}
    raw = str(data.get("terms") or "")
    terms = list(dict.fromkeys(t.strip() for t in _SPLIT.split(raw) if t.strip()))
    if len(terms) < 2:
        errors["terms"] = _("Give at least two words, one a line or separated by commas.")
    elif len(terms) > MAX_TERMS:
        errors["terms"] = _("At most %(n)s words in a group.", n=MAX_TERMS)
    elif any(len(t) > MAX_TERM_CHARS for t in terms):
        errors["terms"] = _("Each word may have at most %(n)s characters.", n=MAX_TERM_CHARS)
    source = str(data.get("source") or "").strip()
    if not source:
        errors["source"] = _("Say where the words come from (a standard, or editorial).")
    elif len(source) > 200:
        errors["source"] = _("Must be at most %(n)s characters.", n=200)
    if errors:
        raise Invalid(errors)
    return terms, data.get("mutual") in ("on", "true", "1", True), source


def _admin(user: User) -> None:
    if not user.is_site_admin:
        raise Forbidden(_("Only site administrators may change the synonyms."))


def _changed(session: Session) -> None:
    session.flush()
    synonyms = synonyms_from(session)
    app = current_app._get_current_object()
    after_commit(session, lambda: push(app, synonyms))


def save_group(
    session: Session, user: User, data: Mapping[str, object], group_id: int | None = None
) -> SynonymGroup:
    """Add a group (group_id None) or replace one's words, direction and source."""
    _admin(user)
    group = None
    if group_id is not None:
        group = session.get(SynonymGroup, group_id)
        if group is None:
            raise NotFound(_("No such synonym group."))
    terms, mutual, source = _parse(data)
    before = list(group.terms) if group else None
    if group is None:
        group = SynonymGroup(terms=terms, mutual=mutual, source=source)
        session.add(group)
    else:
        group.terms, group.mutual, group.source = terms, mutual, source
    session.flush()
    audit.record(
        session, user, "search.synonyms_saved", f"synonym_group:{group.id}",
        before=before, after=terms, mutual=mutual, source=source,
    )  # fmt: skip
    _changed(session)
    return group


def delete_group(session: Session, user: User, group_id: int) -> None:
    _admin(user)
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise NotFound(_("No such synonym group."))
    audit.record(
        session, user, "search.synonyms_deleted", f"synonym_group:{group.id}", before=group.terms
    )
    session.delete(group)
    _changed(session)
