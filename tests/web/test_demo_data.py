"""The demo data tells one story: organisations work where they are based, a municipality
lists items of its own town, nobody trades with itself, and a year of history made by the
real services (market.demo_history) fills every dashboard: invoices with their numbers and
PDFs, refunds with a 返還インボイス, tickets and 受領書 with their hauls, pickups and
no-shows, in most months of the year, with every listing's ledger adding up."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market import create_app
from market.accounts.models import Organisation, OrgKind
from market.allocation.models import Deal, MatchRun
from market.catalog.models import LedgerEntry, Listing, ListingKind
from market.db import japan_today
from market.demo import CITY, DEMO_PASSWORD, ORGS, PLANT_OPERATOR, load_demo, run_matching
from market.orders.models import (
    Delivery,
    Order,
    OrderPayment,
    OrderRefund,
    OrderStatus,
    OrderTransition,
    PlatformFeeStatement,
)
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot
from market.trace.models import Receipt, TransferTicket


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, sqlite_template):
    """One demo load for the module (it is the slow part): a year through the services."""
    tmp = tmp_path_factory.mktemp("demo")
    path = tmp / "meguri.db"
    shutil.copy(sqlite_template, path)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "INSTANCE_DIR": str(tmp / "instance"),
            "SECRET_KEY": "demo",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATE_LIMITS": False,
        }
    )
    with app.app_context():
        session = app.extensions["meguri.db"].session()
        app.config["DEMO_SUMMARY"] = load_demo(session, target=120, if_empty=True)
        session.commit()
        app.config["DEMO_MATCHING"] = run_matching(app, session)
    yield app
    app.extensions["meguri.db"].dispose()


@pytest.fixture
def demo(demo_app):
    with demo_app.app_context():
        session = demo_app.extensions["meguri.db"].session()
        yield session
        session.rollback()


def signed_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return client


def email_of(session, org_id: int) -> str:
    index = [o.id for o in session.scalars(select(Organisation).order_by(Organisation.id))]
    return f"demo{index.index(org_id) + 1}@meguri.example"


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * 111, (a[1] - b[1]) * 91)


def test_organisations_list_where_they_work(demo):
    homes = {name: CITY[city] for _kind, name, city in [*ORGS, PLANT_OPERATOR]}
    for org in demo.scalars(select(Organisation)):
        home = homes[org.name]
        assert org.address == home[0] and org.municipality_code == home[1]
        for listing in demo.scalars(select(Listing).where(Listing.organisation_id == org.id)):
            assert km((listing.lat, listing.lon), (home[3], home[4])) < 55, (
                org.name,
                listing.title,
            )
            if listing.kind == ListingKind.reuse_item:  # a town lists its own town's items
                assert listing.address == home[0] and f"（{home[0]}）" in listing.title


def test_nobody_trades_with_itself(demo):
    orders = demo.scalars(select(Order)).all()
    assert len(orders) > 100
    assert all(o.buyer_org_id != o.seller_org_id for o in orders)
    tickets = demo.scalars(select(TransferTicket)).all()
    assert tickets and all(t.issued_by_org_id != t.receiving_org_id for t in tickets)


def test_each_municipality_has_a_year_of_pickups_and_some_no_shows(demo):
    for city in demo.scalars(select(Organisation).where(Organisation.kind == OrgKind.municipality)):
        months = {
            d.delivered_on.strftime("%Y-%m")
            for d in demo.scalars(
                select(Delivery).join(Order).where(Order.seller_org_id == city.id)
            )
        }
        assert len(months) >= 11, (city.name, sorted(months))
        missed = demo.scalar(
            select(func.count())
            .select_from(PickupBooking)
            .join(PickupBooking.slot)
            .where(
                PickupSlot.municipality_org_id == city.id,
                PickupBooking.status == BookingStatus.no_show,
            )
        )
        assert missed >= 1, f"{city.name}: a year without one no-show is not a real year"
    no_shows = demo.scalars(
        select(PickupBooking).where(PickupBooking.status == BookingStatus.no_show)
    ).all()
    assert no_shows and all(b.no_show_reason and b.no_show_at for b in no_shows)
    # Reminders went out the day before each pickup, at 09:00 Japan time (00:00 UTC).
    done = demo.scalars(
        select(PickupBooking).where(PickupBooking.status == BookingStatus.checked_in)
    ).all()
    assert len(done) > 50
    for booking in done:
        assert booking.reminded_at is not None
        assert booking.reminded_at.date() == booking.slot.slot_date - dt.timedelta(days=1)
        assert booking.checked_in_at.date() == booking.slot.slot_date


def test_the_year_was_made_step_by_step_in_the_past(demo):
    """Every order's history is its own timeline: requested, accepted, paid, delivered and
    completed on different days spread over the year, never in the future."""
    today = japan_today()
    completed = demo.scalars(select(Order).where(Order.status == OrderStatus.completed)).all()
    assert len(completed) > 100
    months = {o.created_at.strftime("%Y-%m") for o in completed}
    assert len(months) >= 12
    for order in completed:
        steps = demo.scalars(
            select(OrderTransition)
            .where(OrderTransition.order_id == order.id)
            .order_by(OrderTransition.id)
        ).all()
        stamps = [s.created_at for s in steps]
        assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= dt.timedelta(days=2)
        assert [s.action for s in steps][0] == "request" and steps[-1].action == "complete"
        assert all(d.delivered_on < today for d in order.deliveries)


def test_invoices_have_numbers_dates_and_pdfs(demo, demo_app):
    paid = demo.scalars(
        select(OrderPayment).where(
            OrderPayment.backend == "invoice", OrderPayment.paid_on.is_not(None)
        )
    ).all()
    assert len(paid) > 100
    assert len({p.paid_on.strftime("%Y-%m") for p in paid}) >= 12
    for row in paid:
        invoice = row.invoice
        assert invoice["number"] == row.reference and invoice["registration_number"].startswith("T")
        issued = dt.date.fromisoformat(invoice["issue_date"])
        assert issued <= row.paid_on <= japan_today()
    # The payee downloads the qualified invoice as a PDF.
    row = paid[0]
    client = signed_in(demo_app, email_of(demo, row.payee_org_id))
    response = client.get(f"/orders/{row.order_id}/invoice.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    # Each payee has its monthly platform fee statements.
    assert demo.scalar(select(func.count()).select_from(PlatformFeeStatement)) >= 12


def test_refunds_carry_a_credit_note_and_a_reason(demo, demo_app):
    refunds = demo.scalars(select(OrderRefund)).all()
    assert 1 <= len(refunds) <= 15, "a few refunds, not a habit"
    for refund in refunds:
        assert refund.reason and refund.amount_yen > 0
        assert refund.credit_note_number and refund.credit_note
    refund = refunds[0]
    client = signed_in(demo_app, email_of(demo, refund.refunded_by_org_id))
    response = client.get(f"/orders/{refund.order_id}/refunds/{refund.id}/credit-note.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_soil_went_by_ticket_to_a_receipt_with_its_haul(demo):
    receipts = demo.scalars(select(Receipt)).all()
    assert len(receipts) >= 6
    for receipt in receipts:
        order = demo.get(Order, receipt.order_id)
        assert receipt.receiving_org_id == order.buyer_org_id
        assert Decimal(receipt.volume) == Decimal(order.quantity)
        haul = receipt.content["haul"]
        assert haul["basis"] == "legs" and Decimal(haul["road_km"]) > 0
        tickets = demo.scalars(
            select(TransferTicket).where(TransferTicket.order_id == order.id)
        ).all()
        assert tickets and all(t.time_in and t.time_in > t.time_out for t in tickets)
        assert sum(Decimal(d.quantity) for d in order.deliveries) == Decimal(order.quantity)


def test_every_listing_ledger_adds_up(demo):
    for listing in demo.scalars(select(Listing)):
        open_, committed, delivered = (
            Decimal(listing.open_quantity),
            Decimal(listing.committed_quantity),
            Decimal(listing.delivered_quantity),
        )
        assert min(open_, committed, delivered) >= 0
        assert open_ + committed + delivered == Decimal(listing.quantity), listing.id
        sums = demo.execute(
            select(
                func.sum(LedgerEntry.open_change),
                func.sum(LedgerEntry.committed_change),
                func.sum(LedgerEntry.delivered_change),
            ).where(LedgerEntry.listing_id == listing.id)
        ).one()
        assert tuple(Decimal(s or 0) for s in sums) == (open_, committed, delivered), listing.id


def test_the_load_is_done_once(demo_app, demo):
    assert "year of history" in demo_app.config["DEMO_SUMMARY"]
    before = demo.scalar(select(func.count()).select_from(Order))
    again = load_demo(demo, target=120, if_empty=True)
    assert "already" in again
    assert demo.scalar(select(func.count()).select_from(Order)) == before


def test_this_mornings_matching_made_deals_and_left_some_to_decide(demo_app, demo):
    """The nightly runs, carried out at load: soil planned over 26 weeks, every run solved to
    its optimum; half the deals accepted by all their parties (orders from matching, ledger
    committed), the others still proposed for a visitor to decide."""
    runs = demo.scalars(select(MatchRun)).all()
    assert {r.family for r in runs} >= {"soil", "reuse"}
    assert all(r.status == "done" and r.solver_status == "optimal" for r in runs)
    assert [r.horizon_weeks for r in runs if r.family == "soil"] == [26]
    deals = demo.scalars(select(Deal)).all()
    agreed = [d for d in deals if d.state == "agreed"]
    assert agreed and any(d.state == "proposed" for d in deals)
    assert f"{len(agreed)} agreed" in demo_app.config["DEMO_MATCHING"]
    for deal in agreed:
        assert all(party.decision == "accepted" for party in deal.parties)
    from_matching = demo.scalars(select(Order).where(Order.source == "proposal")).all()
    assert len(from_matching) >= len(agreed)
    assert all(o.buyer_org_id != o.seller_org_id for o in from_matching)
