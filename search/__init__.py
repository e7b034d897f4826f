"""Search for Meguri listings: one SearchIndex interface, an embedded engine in the app
database (default) and a Meilisearch adapter. Pure: no Flask, no market models."""

from .documents import (
    FACETS,
    SORTS,
    ListingDocument,
    SearchBackendError,
    SearchHit,
    SearchQuery,
    SearchQueryError,
    SearchResults,
)
from .factory import make_index
from .interface import SearchIndex, SyncReport, verify
from .synonyms import SynonymGroup, Synonyms

__all__ = [
    "FACETS",
    "SORTS",
    "ListingDocument",
    "SearchBackendError",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchQueryError",
    "SearchResults",
    "SynonymGroup",
    "Synonyms",
    "SyncReport",
    "make_index",
    "verify",
]
