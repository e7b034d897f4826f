"""A database that fails in the middle of a request (a restart terminating the connection)
gives a clean 503, in JSON for the API, even when the failure left the session's objects
expired and the transaction waiting for a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from test_catalog import api_headers


@pytest.fixture
def break_token_updates(app):
    """Call it to make the UPDATE of a token's last use fail, as a PostgreSQL restart does."""
    engine = app.extensions["meguri.db"].engine

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            raise OperationalError(statement, parameters, Exception("terminating connection"))

    yield lambda: event.listen(engine, "before_cursor_execute", fail)
    if event.contains(engine, "before_cursor_execute", fail):
        event.remove(engine, "before_cursor_execute", fail)


def test_api_request_whose_flush_fails_is_a_json_503_not_a_500(
    client, factory, login, break_token_updates
):
    login(factory.user("contractor"))
    headers = api_headers(client)
    break_token_updates()
    response = client.get("/api/v1/listings", headers=headers)
    assert response.status_code == 503
    assert response.get_json()["error"].startswith("ただいまサービスを一時的にご利用いただけません")
