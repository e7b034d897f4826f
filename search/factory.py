"""Choose a search backend from configuration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from .interface import SearchIndex

BACKENDS = ("embedded", "meilisearch")


def make_index(
    target: Engine | str | Any,
    backend: str = "embedded",
    *,
    name: str = "listings",
    **settings: Any,
) -> SearchIndex:
    """Build a SearchIndex.

    embedded:    target is the app's SQLAlchemy Engine (or a database URL).
    meilisearch: target is the server URL (or a meilisearch.Client); settings may hold
                 api_key, timeout (seconds), wait_timeout_ms, batch_size.
    Both accept indexable_statuses (default {"open"}). Fails fast on missing settings."""
    # Each backend is imported only when chosen: the embedded engine brings its numpy
    # columns and SQL, Meilisearch its client library; an app loads only the one it uses.
    if backend == "embedded":
        from .embedded import EmbeddedIndex

        if not target:
            raise ValueError("embedded search needs the app's database engine or URL")
        return EmbeddedIndex(target, name, **settings)
    if backend == "meilisearch":
        from .meili import MeilisearchIndex

        if not target:
            raise ValueError("MEGURI_SEARCH=meilisearch needs a Meilisearch URL")
        return MeilisearchIndex(target, name, **settings)
    raise ValueError(f"unknown search backend {backend!r}; choose one of {', '.join(BACKENDS)}")
