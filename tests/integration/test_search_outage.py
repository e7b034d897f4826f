"""The search backend unreachable, at the stack level: gunicorn and a job worker on
PostgreSQL with MEGURI_SEARCH=meilisearch pointed at a stand-in Meilisearch server that we
stop. Listings still save (the change waits in the outbox, readiness reports search down);
once the server is back, ``flask search drain --now`` delivers every waiting change."""

from __future__ import annotations

import time

import pytest

from tests.conftest import PASSWORD, PG_REASON, PG_URL, listing_data
from tests.integration import stack
from tests.integration.fake_meili import FakeMeili

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

LISTINGS = 5


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
            token = accounts.issue_api_token(s, user, "outage")[1]
            s.commit()
            return token
    finally:
        app.extensions["meguri.db"].dispose()


def test_listings_save_while_search_is_down_and_the_outbox_drains_when_it_returns(tmp_path):
    meili = FakeMeili(stack.free_port())
    meili.start()
    try:
        with stack.scratch_database(PG_URL, "searchdown") as url:
            token = _token(url, tmp_path)
            with stack.stack(
                url,
                tmp_path,
                MEGURI_SEARCH="meilisearch",
                MEGURI_MEILI_URL=meili.url,
                MEGURI_RATE_LIMITS="0",
            ) as s:
                s.start_web(workers=2, threads=2)
                s.start_worker("worker")
                assert stack.call(s.port, "GET", "/readyz")[0] == 200

                meili.stop()
                ids = []
                for i in range(LISTINGS):
                    code, body = stack.call(
                        s.port,
                        "POST",
                        "/api/v1/listings",
                        {
                            **listing_data("soil_offer"),
                            "kind": "soil_offer",
                            "title": f"江東区 発生土 {i}",
                        },
                        token,
                        timeout=30,
                    )
                    assert code == 201, (code, body, s.logs())
                    ids.append(body["id"])
                code, ready = stack.call(s.port, "GET", "/readyz")
                assert code == 503 and ready["checks"]["search"].startswith("error"), ready
                assert ready["checks"]["database"] == "ok"
                # The worker tried and failed: the changes wait in the outbox, none lost.
                waiting = "SELECT count(DISTINCT listing_id) FROM listing_index_outbox"
                stack.wait_until(
                    lambda: stack.scalar(
                        url, "SELECT count(*) FROM listing_index_outbox WHERE attempts > 0"
                    )
                    > 0,
                    30,
                    "a failed delivery",
                )
                assert stack.scalar(url, waiting) == LISTINGS
                assert (
                    stack.call(s.port, "GET", f"/api/v1/listings/{ids[0]}")[0] == 200
                )  # saved and readable

                meili.start()
                t0 = time.monotonic()
                out = s.flask("search", "drain", "--now")
                assert f"{0} waiting" in out, out
                assert stack.scalar(url, "SELECT count(*) FROM listing_index_outbox") == 0
                assert set(meili.documents()) >= set(ids)
                assert stack.call(s.port, "GET", "/readyz")[0] == 200
                print(
                    f"\nSEARCH OUTAGE: {LISTINGS} listings saved while down; drained in "
                    f"{time.monotonic() - t0:.1f}s after the backend returned"
                )
    finally:
        meili.stop()
