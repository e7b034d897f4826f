"""What happens to listings, told to the areas above catalog that care, without catalog (or
the quantity ledger) importing them: an area registers a listener once, at import
(``allocation`` re-checks its open proposals, ``finder.index`` queues index refreshes), and
the change calls every listener in the same transaction, right after it is flushed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from market.catalog.models import Listing

QuantitiesListener = Callable[[Session, list[int]], object]
IndexListener = Callable[[Session, list[int]], object]
TermsListener = Callable[[Session, Listing], object]

_quantities: list[QuantitiesListener] = []
_terms: list[TermsListener] = []
_index: list[IndexListener] = []


def on_quantities_changed(fn: QuantitiesListener) -> QuantitiesListener:
    """Register ``fn(session, listing_ids)``: the listings' open quantity or status moved."""
    if fn not in _quantities:
        _quantities.append(fn)
    return fn


def on_terms_changed(fn: TermsListener) -> TermsListener:
    """Register ``fn(session, listing)``: the owner changed the listing's period or who may
    take it."""
    if fn not in _terms:
        _terms.append(fn)
    return fn


def on_index_stale(fn: IndexListener) -> IndexListener:
    """Register ``fn(session, listing_ids)``: the listings changed behind the ORM's back (a
    Core UPDATE), so what the search index holds of them is stale."""
    if fn not in _index:
        _index.append(fn)
    return fn


def quantities_changed(session: Session, listing_ids: list[int]) -> None:
    for fn in _quantities:
        fn(session, listing_ids)


def terms_changed(session: Session, listing: Listing) -> None:
    for fn in _terms:
        fn(session, listing)


def index_stale(session: Session, listing_ids: list[int]) -> None:
    for fn in _index:
        fn(session, listing_ids)
