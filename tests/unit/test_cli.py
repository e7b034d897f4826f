"""The flask commands a new operator uses: migrate, create an admin, load demo data."""

from __future__ import annotations

from sqlalchemy import func, select

from market import create_app
from market.accounts.models import User
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, ListingPhoto, ListingStatus
from market.db import japan_today


def make_app(tmp_path):
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "t",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
        }
    )


def test_upgrade_admin_and_demo_data_from_an_empty_database(tmp_path):
    app = make_app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0

    result = runner.invoke(
        args=["create-admin", "--email", "ops@example.jp"], input="admin password\nadmin password\n"
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(args=["create-admin", "--email", "not-an-email"], input="short\nshort\n")
    assert bad.exit_code != 0 and "email" in bad.output and "password" in bad.output

    result = runner.invoke(args=["demo", "load", "--listings", "400"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = app.extensions["meguri.db"].session()
        counts = dict(
            session.execute(select(Listing.kind, func.count()).group_by(Listing.kind)).all()
        )
        assert set(counts) == set(SPECS), "every listing kind has demo listings"
        assert sum(counts.values()) >= 300
        # Most of what is on offer now is open (the year's history is closed and over).
        current = Listing.window_end >= japan_today()
        open_count = session.scalar(
            select(func.count()).where(current, Listing.status == ListingStatus.open)
        )
        assert open_count > 0.8 * session.scalar(select(func.count()).where(current))
        assert open_count >= 300
        # Plausible figures: soil offers pay to dispose, windows are ordered, all in Kanto.
        soil = session.scalars(select(Listing).where(Listing.kind == "soil_offer")).all()
        assert all(listing.price_per_unit < 0 for listing in soil)
        assert all(listing.window_start <= listing.window_end for listing in soil)
        assert {listing.prefecture_code for listing in soil} <= {
            "08",
            "09",
            "10",
            "11",
            "12",
            "13",
            "14",
        }
        photos = session.scalars(select(ListingPhoto)).all()
        assert photos and all(p.has_thumbnail for p in photos)
        # Orders under way, made through the services, so every stage can be tried.
        from market.notifications.models import Notification
        from market.orders.models import Order
        from market.pickups.models import BookingStatus, PickupBooking

        states = {str(s) for s in session.scalars(select(Order.status))}
        assert {"requested", "invoiced", "paid", "completed"} <= states
        assert (
            session.scalar(select(func.count()).where(PickupBooking.status == BookingStatus.booked))
            == 1
        )
        demo1 = session.scalar(select(User).where(User.email == "demo1@meguri.example"))
        assert session.scalar(select(func.count()).where(Notification.user_id == demo1.id)) >= 2
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "already" in again.output
    app.extensions["meguri.db"].dispose()


def test_downgrade_to_empty(tmp_path):
    app = make_app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    with app.app_context():
        from sqlalchemy import inspect

        tables = set(inspect(app.extensions["meguri.db"].engine).get_table_names()) - {
            "alembic_version"
        }
        assert not [t for t in tables if not t.startswith("search_")]
    app.extensions["meguri.db"].dispose()
