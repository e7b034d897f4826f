"""The one way a request writes: run the service (which flushes, never commits), then commit
once; or roll back and refuse. Views and API routes alike::

    listing = commit(lambda s: services.close_listing(s, user, listing))   # API: refusal → JSON

    done = commit_or_refuse(lambda s: services.enter_haul(s, user, order, values))
    done = submit(HaulForm, lambda s, form: services.enter_haul(s, user, order, form))
    if not done.ok:
        return page(errors=done.errors), done.status

A refusal is a ``DomainError`` (``Invalid`` carries every field at fault, ``errors`` is
field → message for every kind). ``NotFound`` is never shown on the form: it stays the 404
page (or JSON), as for a link to nothing. ``submit`` reads the page's declared form first
(``market.core.forms``): a field that breaks it is refused like any field error, and nothing
is written. Side effects wait for the commit (``market.db.after_commit``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from market.core.forms import Form, parse_form
from market.errors import DomainError, Invalid, NotFound
from market.services import db_session

T = TypeVar("T")
F = TypeVar("F", bound=Form)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A write's result, or why it was refused (nothing of it written)."""

    result: T | None = None
    refusal: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def errors(self) -> dict[str, str]:
        return self.refusal.errors if self.refusal is not None else {}

    @property
    def status(self) -> int:
        return self.refusal.status if self.refusal is not None else 200


def commit(write: Callable[[Session], T], keep: Callable[[T], bool] | None = None) -> T:
    """Run ``write`` and commit; on any error roll back and let it answer (the error page,
    or JSON under /api). With ``keep``, a result it judges not worth keeping (a dry run, a
    file with errors, nothing changed) is rolled back instead, and still returned."""
    s = db_session()
    try:
        result = write(s)
    except BaseException:
        s.rollback()
        raise
    if keep is None or keep(result):
        s.commit()
    else:
        s.rollback()
    return result


def commit_or_refuse(
    write: Callable[[Session], T],
    refuse: tuple[type[DomainError], ...] = (DomainError,),
    unless: tuple[type[DomainError], ...] = (NotFound,),
    keep: Callable[[T], bool] | None = None,
) -> Outcome[T]:
    """Run ``write`` and commit (or roll back a result ``keep`` judges not worth keeping,
    as ``commit``). A refusal of the kinds in ``refuse`` (other than those in
    ``unless``: a 404 by default, also a 403 where "you may not" is no form's business) is
    rolled back and handed back for the page to show; anything else is rolled back and
    raised."""
    s = db_session()
    try:
        result = write(s)
    except refuse as exc:
        s.rollback()
        if isinstance(exc, unless):
            raise
        return Outcome(refusal=exc)
    except BaseException:
        s.rollback()
        raise
    if keep is None or keep(result):
        s.commit()
    else:
        s.rollback()
    return Outcome(result=result)


def submit(
    form: type[F],
    write: Callable[[Session, F], T],
    refuse: tuple[type[DomainError], ...] = (DomainError,),
    unless: tuple[type[DomainError], ...] = (NotFound,),
    keep: Callable[[T], bool] | None = None,
) -> Outcome[T]:
    """Read the page's declared ``form`` and hand it to ``write`` (commit or refuse, as
    ``commit_or_refuse``); a field that breaks the form's declaration refuses it (400) with
    every such field named, before anything is written."""
    parsed, errors = parse_form(form)
    if errors:
        return Outcome(refusal=Invalid(errors, status=400))
    return commit_or_refuse(lambda s: write(s, parsed), refuse, unless, keep)
