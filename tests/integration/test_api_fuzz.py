"""API fuzzing with schemathesis against the app's own OpenAPI document
(/api/v1/openapi.json: listings, orders, tickets, search), in process on SQLite and PostgreSQL:
whatever is sent, the answer is never a 5xx."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip(
    "schemathesis", reason="API fuzzing needs schemathesis (requirements-dev.txt)"
)

EXAMPLES = 25  # per operation and database: ~10 operations, a few hundred requests in all


@pytest.fixture
def token(app, factory):
    """A contractor with a listing, an order on another organisation's listing, a token."""
    from market.accounts import services as accounts
    from market.accounts.models import User
    from market.orders import services as orders

    seller = factory.user()
    buyer = factory.user()
    offer = factory.listing(seller)
    factory.listing(buyer, "soil_want")
    with app.test_request_context():
        s = app.extensions["meguri.db"].session()
        user = s.get(User, buyer.id)
        orders.request_order(s, user, offer, {"quantity": 5})
        secret = accounts.issue_api_token(s, user, "fuzz")[1]
        s.commit()
        return secret


def test_no_server_errors_whatever_the_api_is_sent(app, token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/v1/listings",
        "/api/v1/orders",
        "/api/v1/search",
        "/api/v1/orders/{order_id}/actions/{action}",
    }
    failures: list[str] = []
    statuses: Counter = Counter()
    auth = {"Authorization": f"Bearer {token}"}

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), signed_in=st.booleans())
        def fuzz(case, signed_in):
            response = case.call(headers=auth if signed_in else {})
            statuses[response.status_code // 100 * 100] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{response.status_code} {case.method} {case.formatted_path} "
                    f"query={case.query} body={case.body!r} -> {response.text[:300]}"
                )

        fuzz()  # noqa: B023 - each operation's fuzz runs before the loop moves on
    assert not failures, "\n".join(failures[:10])
    assert statuses[200] >= len(operations) and statuses[400] > 0, (
        statuses
    )  # fuzzing reached real work
