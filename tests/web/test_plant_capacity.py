"""A plant's weekly capacity is booked by agreed deals through one guarded UPDATE: never
past the line's capacity, whether the week's row exists yet or two bookings make it at
the same moment (PostgreSQL, threads on the service, released together)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from market.accounts.models import Organisation
from market.allocation import plants
from market.allocation.models import Plant, PlantConversion, PlantLoad
from market.errors import Conflict
from tests.conftest import in_session

WEEK = dt.date(2027, 1, 4)


@pytest.fixture
def line(app, factory):
    operator = factory.user("plant_operator")

    def make(s):
        plant = Plant(
            organisation=s.get(Organisation, operator.org_id),
            name="城南改良センター",
            lat=35.63,
            lon=139.78,
            prefecture_code="13",
        )
        conversion = PlantConversion(
            plant=plant,
            from_class="4a",
            to_class="2i",
            price_per_m3=1500,
            weekly_capacity=Decimal(100),
        )
        s.add_all([plant, conversion])
        s.flush()
        return conversion.id

    return in_session(app, make)


def _reserved(app, line_id):
    return in_session(
        app,
        lambda s: [(x.week, x.reserved) for x in s.scalars(select(PlantLoad))],
        commit=False,
    )


def test_bookings_fill_a_week_and_the_one_past_capacity_is_refused_by_name(app, line):
    in_session(app, lambda s: plants.reserve(s, line, WEEK, Decimal(60)))
    in_session(app, lambda s: plants.reserve(s, line, WEEK, Decimal(40)))
    with app.test_request_context(), pytest.raises(Conflict) as refused:
        in_session(app, lambda s: plants.reserve(s, line, WEEK, Decimal("0.5")))
    assert "城南改良センター" in refused.value.message and "2027-01-04" in refused.value.message
    in_session(app, lambda s: plants.reserve(s, line, WEEK + dt.timedelta(weeks=1), Decimal(100)))
    assert _reserved(app, line) == [
        (WEEK, Decimal(100)),
        (WEEK + dt.timedelta(weeks=1), Decimal(100)),
    ]


def _book_at_once(app, line_id, week, quantities):
    barrier = threading.Barrier(len(quantities))
    outcomes: list[str] = []

    def run(q):
        with app.test_request_context():
            session = app.extensions["meguri.db"].new_session()
            try:
                barrier.wait()
                plants.reserve(session, line_id, week, q)
                session.commit()
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - a refusal is an outcome to count
                session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                session.close()

    threads = [threading.Thread(target=run, args=(Decimal(q),)) for q in quantities]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.commits  # threads race on connections of their own
@pytest.mark.parametrize("row", ["new week", "week already booked"])
def test_bookings_racing_for_the_last_capacity_never_overbook(app, line, row):
    if app.extensions["meguri.db"].is_sqlite:
        pytest.skip("a race between connections: PostgreSQL (SQLite runs one writer at a time)")
    for round_ in range(3):
        week = WEEK + dt.timedelta(weeks=round_)
        base = Decimal(0)
        if row == "week already booked":
            base = Decimal(20)
            in_session(app, lambda s, week=week, base=base: plants.reserve(s, line, week, base))
        outcomes = _book_at_once(app, line, week, [60, 60, 60, 60])
        assert outcomes.count("ok") == 1 and set(outcomes) <= {"ok", "Conflict"}, outcomes
        booked = dict(_reserved(app, line))
        assert booked[week] == base + 60
