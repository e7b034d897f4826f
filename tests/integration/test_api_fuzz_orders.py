"""API fuzzing, orders part: every /api/v1/orders operation (see api_fuzz.py)."""

from __future__ import annotations

from tests.integration.api_fuzz import fuzz_part, token  # noqa: F401 - token is a fixture


def test_every_check_holds_whatever_the_orders_api_is_sent(app, token):  # noqa: F811
    fuzz_part(
        app,
        token,
        "orders",
        {"/api/v1/orders", "/api/v1/orders/{order_id}/actions/{action}"},
    )
