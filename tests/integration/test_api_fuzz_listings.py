"""API fuzzing, listings part: every /api/v1/listings operation (see api_fuzz.py)."""

from __future__ import annotations

from tests.integration.api_fuzz import fuzz_part, token  # noqa: F401 - token is a fixture


def test_every_check_holds_whatever_the_listings_api_is_sent(app, token):  # noqa: F811
    fuzz_part(
        app,
        token,
        "listings",
        {"/api/v1/listings", "/api/v1/listings/{listing_id}", "/api/v1/listings/import"},
    )
