"""The one Japan clock (market/db.py) and its ``as_of``: the demo's past is made by the real
services with the clock set back, and nothing that serves requests or runs jobs sets it."""

from __future__ import annotations

import ast
import datetime as dt
import threading
from pathlib import Path

import pytest

from market import db
from market.orders.models import Order

ROOT = Path(__file__).resolve().parents[2]
# The only modules that may set the clock back: the demo loader and its history.
MAY_SET_THE_CLOCK = {"market/db.py", "market/demo.py", "market/demo_history.py"}


def test_as_of_sets_every_reading_of_the_clock_and_then_lets_go():
    instant = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)  # 2026-01-01 08:30 in Japan
    before = db.utcnow()
    with db.as_of(instant):
        assert db.utcnow() == dt.datetime(2025, 12, 31, 23, 30)
        assert db.japan_now() == dt.datetime(2026, 1, 1, 8, 30)
        assert db.japan_today() == dt.date(2026, 1, 1)
        # A column default reads the same clock: a row written now is stamped then.
        assert Order.__table__.c.created_at.default.arg(None) == dt.datetime(2025, 12, 31, 23, 30)
    after = db.utcnow()
    assert before <= after and after.year >= 2026 and abs(after - before) < dt.timedelta(minutes=5)


def test_as_of_refuses_a_naive_instant_and_is_undone_after_an_error():
    with pytest.raises(ValueError), db.as_of(dt.datetime(2026, 1, 1)):  # noqa: DTZ001
        pass
    with pytest.raises(RuntimeError), db.as_of(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        raise RuntimeError("a service refused")
    assert db.japan_today().year >= 2026


def test_as_of_is_per_thread_of_control():
    """A request served by another thread while the demo loads reads the wall clock."""
    seen = []
    with db.as_of(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        thread = threading.Thread(target=lambda: seen.append(db.japan_today()))
        thread.start()
        thread.join()
        assert db.japan_today() == dt.date(2020, 1, 1)
    assert seen[0].year >= 2026


def sets_the_clock(source: str) -> bool:
    """Whether a module takes ``as_of`` from market.db (imported, or as ``db.as_of``)."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "market.db"
            and any(alias.name == "as_of" for alias in node.names)
        ):
            return True
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "as_of"
            and isinstance(node.value, ast.Name)
            and node.value.id == "db"
        ):
            return True
    return False


def test_the_check_itself_finds_both_ways_of_setting_the_clock():
    assert sets_the_clock("from market.db import utcnow, as_of")
    assert sets_the_clock("from market import db\nwith db.as_of(x):\n    pass")
    assert not sets_the_clock("def build(as_of):\n    return as_of")


def test_only_the_demo_sets_the_clock_back():
    users = {
        str(path.relative_to(ROOT))
        for package in ("market", "payments", "matching", "search")
        for path in (ROOT / package).rglob("*.py")
        if sets_the_clock(path.read_text(encoding="utf-8"))
    }
    assert users and users <= MAY_SET_THE_CLOCK, sorted(users - MAY_SET_THE_CLOCK)
