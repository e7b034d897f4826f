"""The request's session ends cleanly even when the database went away after the
response was made: the closing ROLLBACK fails, but no error replaces a good answer and
the next request in the thread gets a fresh session."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from market.db import Database


def test_ending_a_session_whose_connection_died_neither_raises_nor_leaves_it_behind(monkeypatch):
    db = Database("sqlite://")
    dead = db.session()

    def rollback_fails():
        raise OperationalError(
            "ROLLBACK", {}, Exception("terminating connection due to administrator command")
        )

    monkeypatch.setattr(dead, "close", rollback_fails)
    db.remove()  # raised OperationalError (a 500 after the response) before
    assert db.session() is not dead
    db.dispose()
