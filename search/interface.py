"""The SearchIndex protocol every backend implements, and the verify/repair logic
built only on that protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .documents import ListingDocument, SearchQuery, SearchResults
from .synonyms import Synonyms


@runtime_checkable
class SearchIndex(Protocol):
    name: str
    indexable_statuses: frozenset[str]

    def ensure(self) -> None:
        """Create the index and apply its settings; safe to call on every start-up."""

    def upsert(
        self,
        documents: Iterable[ListingDocument],
        *,
        wait: bool = True,
        versions: Mapping[int, int] | None = None,
    ) -> int:
        """Add or replace documents. A document whose status is not indexable is removed
        from the index instead (a listing that closes must disappear). Returns the number
        of documents now indexed from this call. `wait` gives read-your-writes.

        `versions` (listing id -> a number that grows with each change of the listing)
        orders writes that race: a document older than the last one written for its id
        is skipped, so concurrent writes of one listing, in any order, end in the newest.
        Documents without a version are always written."""

    def delete(
        self, ids: Iterable[int], *, wait: bool = True, versions: Mapping[int, int] | None = None
    ) -> None:
        """Remove documents by listing id; unknown ids are ignored. `versions` as for
        upsert: a deletion older than the last write of its id changes nothing."""

    def search(self, query: SearchQuery) -> SearchResults: ...

    def count(self, query: SearchQuery | None = None) -> int:
        """Documents matching the query (all documents when None)."""

    def fingerprints(self) -> dict[int, str]:
        """Every indexed id with its content hash, for verify."""

    def rebuild(self, documents: Iterable[ListingDocument]) -> int:
        """Build a complete new index from `documents` beside the live one, then swap it
        in atomically. Searches keep working throughout. Returns documents indexed."""

    def drop(self) -> None:
        """Remove the index entirely (tests, decommissioning)."""

    def set_synonyms(self, synonyms: Synonyms) -> None:
        """Replace the synonyms every search applies (kept through rebuilds)."""

    def warm(self) -> object:
        """Get ready for the first search as a worker starts, without blocking it (the
        embedded engine loads its columns in a thread; a server-backed index has nothing
        to load)."""


@dataclass
class SyncReport:
    """Differences between what the database says should be indexed and the index."""

    missing: list[int] = field(default_factory=list)  # should be indexed, is not
    stale: list[int] = field(default_factory=list)  # indexed with outdated content
    extra: list[int] = field(default_factory=list)  # indexed, should not be
    checked: int = 0
    repaired: bool = False

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.stale or self.extra)


def verify(
    index: SearchIndex, documents: Iterable[ListingDocument], *, repair: bool = False
) -> SyncReport:
    """Compare the database's view (`documents`: every listing the app would index, or
    all listings; non-open ones count as "should not be indexed") with the index.

    With repair=True, upserts the missing and stale documents and deletes the extra ones.
    Memory grows with the number of indexed ids (about 100 bytes each), not with
    document size: only differing documents are kept."""
    indexed = index.fingerprints()
    report = SyncReport()
    to_write: list[ListingDocument] = []
    seen: set[int] = set()
    for document in documents:
        report.checked += 1
        if document.status not in index.indexable_statuses:
            continue
        seen.add(document.id)
        stored = indexed.get(document.id)
        if stored is None:
            report.missing.append(document.id)
            to_write.append(document)
        elif stored != document.content_hash():
            report.stale.append(document.id)
            to_write.append(document)
    report.extra = sorted(set(indexed) - seen)
    if repair and not report.in_sync:
        if to_write:
            index.upsert(to_write, wait=True)
        if report.extra:
            index.delete(report.extra, wait=True)
        report.repaired = True
    return report
