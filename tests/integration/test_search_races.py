"""The index keeps up, at the stack level: gunicorn (2 workers × 4 threads) and two job
workers on PostgreSQL and Redis, sellers editing the same listings through the API at
once. The job workers deliver every change without one "search index unavailable", and
the index ends with each listing's latest content.

Before: under concurrent changes the worker logged "search index unavailable" (a
duplicate key in the index) and the entries waited for a retry."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, PG_REASON, PG_URL, listing_data
from tests.integration import stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

LISTINGS = 1
EDITORS = 12
EDITS = 25


def _token(url: str, instance) -> str:
    from market.accounts import services as accounts

    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            user = accounts.sign_up(
                s,
                email="seller@example.jp",
                password=PASSWORD,
                display_name="売り手",
                org_name="売り手建設",
                org_kind="contractor",
            )
            token = accounts.issue_api_token(s, user, "races")[1]
            s.commit()
            return token
    finally:
        app.extensions["meguri.db"].dispose()


def _index_matches_the_database(url: str, instance, ids: list[int]) -> tuple[dict, dict]:
    """(what the index holds, what the listings say it should hold) for `ids`."""
    from market.catalog.models import Listing, ListingStatus
    from market.finder.index import _Names, document, get_index

    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            session = app.extensions["meguri.db"].new_session()
            try:
                names = _Names(session)
                listings = session.scalars(select(Listing).where(Listing.id.in_(ids))).all()
                expected = {
                    listing.id: document(listing, names).content_hash()
                    for listing in listings
                    if listing.status == ListingStatus.open
                }
            finally:
                session.close()
            indexed = {i: h for i, h in get_index(app).fingerprints().items() if i in ids}
            return indexed, expected
    finally:
        app.extensions["meguri.db"].dispose()


def test_concurrent_edits_through_the_api_are_all_delivered(tmp_path):
    with (
        stack.scratch_database(PG_URL, "searchraces") as url,
        stack.redis_server(tmp_path) as redis_url,
    ):
        token = _token(url, tmp_path / "seed")
        with stack.stack(url, tmp_path, redis_url, MEGURI_RATE_LIMITS="0") as s:
            s.start_web(workers=2, threads=4)
            s.start_worker("worker-a", threads=4)
            s.start_worker("worker-b", threads=4)
            ids = []
            for n in range(LISTINGS):
                code, body = stack.call(
                    s.port,
                    "POST",
                    "/api/v1/listings",
                    {**listing_data("soil_offer"), "kind": "soil_offer", "title": f"発生土 {n}"},
                    token,
                )
                assert code == 201, (code, body)
                ids.append(body["id"])

            failures: list = []

            def edit(editor: int) -> None:
                for n in range(EDITS):
                    listing = ids[(editor + n) % LISTINGS]
                    code, body = stack.call(
                        s.port,
                        "PATCH",
                        f"/api/v1/listings/{listing}",
                        {"title": f"江東区 発生土 編集 {editor}-{n}"},
                        token,
                    )
                    if code != 200:
                        failures.append((code, body))

            threads = [threading.Thread(target=edit, args=(e,)) for e in range(EDITORS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert failures == []

            waiting = "SELECT count(*) FROM listing_index_outbox"
            stack.wait_until(lambda: stack.scalar(url, waiting) == 0, 60, "the outbox to drain")
            logs = "\n".join(p.log.read_text(errors="replace") for p in s.processes)
            assert "search index unavailable" not in logs, s.logs()
            indexed, expected = _index_matches_the_database(url, tmp_path / "check", ids)
            assert indexed == expected and len(expected) == LISTINGS
