"""Voiding a ticket whose load never arrived: only its issuer, only while nobody has
received it, always with a reason. The ticket stays on record marked void (who, when,
why), keeps its number, counts in no total and can no longer be received; a void and a
confirmation that race never both win."""

from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from market.core.models import AuditEvent
from market.orders.models import Delivery, OrderStatus
from market.trace import locks
from market.trace.guard import LockedRecord
from market.trace.models import Amendment, Receipt, TicketStatus, TransferTicket
from tests.web.test_orders import Reader, signed_in
from tests.web.test_trace import (
    count,
    issue,
    order_of,
    paid_order,
    proposal_order,
    ticket_id_from,
    tickets_of,
    token_of,
)

REASON = "車両故障のため出発せず（誤発行）"


@pytest.fixture
def db(app):
    return Reader(app)


def void(client, ticket_id: int, reason: str | None = REASON):
    return client.post(
        f"/trace/tickets/{ticket_id}/void", data={} if reason is None else {"reason": reason}
    )


def export_rows(client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def audit_events(db, action: str) -> list[AuditEvent]:
    return db(lambda s: list(s.scalars(select(AuditEvent).where(AuditEvent.action == action))))


def test_the_issuer_voids_a_load_that_never_arrived_and_it_counts_nowhere(app, db, factory):
    supplier, contractor, seller, buyer, order_id, listing_id = paid_order(
        app, factory, quantity="50"
    )
    site = str(factory.listing(contractor, "soil_want", title="受入地 A"))
    arrived = ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))
    assert buyer.post(f"/t/{token_of(db, arrived)}", data={}).status_code == 302
    lost = ticket_id_from(issue(seller, order_id, quantity="40", destination_listing_id=site))
    # The order is fully ticketed: nothing more can leave while the lost load counts.
    assert issue(seller, order_id, quantity="1", destination_listing_id=site).status_code == 409

    done = void(seller, lost)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/trace/tickets/{lost}")

    t = db(lambda s: s.get(TransferTicket, lost))  # kept, marked with who, when and why
    assert (t.status, t.void_reason, t.voided_by_id, t.voided_by_org_id) == (
        TicketStatus.void,
        REASON,
        supplier.id,
        supplier.org_id,
    )
    assert t.voided_at is not None and t.quantity == Decimal(40)
    page = seller.get(f"/trace/tickets/{lost}").get_data(as_text=True)
    assert (
        'id="void-mark"' in page
        and REASON in page
        and 'id="void-form"' not in page
        and 'id="qr"' not in page
    )
    order_page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert 'class="void"' in order_page and REASON in order_page
    assert "ticketed or delivered 10 m³" in order_page  # the void 40 m³ no longer counts
    [event] = audit_events(db, "trace.ticket_void")
    assert (event.actor_id, event.target, event.details["reason"], event.details["code"]) == (
        supplier.id,
        f"ticket:{lost}",
        REASON,
        t.code,
    )

    # It cannot be received afterwards; nothing is delivered.
    confirm_page = buyer.get(f"/t/{t.token}").get_data(as_text=True)
    assert 'id="ticket-void"' in confirm_page and 'id="confirm-form"' not in confirm_page
    refused = buyer.post(f"/t/{t.token}", data={})
    assert refused.status_code == 409 and "was voided on" in refused.get_data(as_text=True)
    assert db(lambda s: s.get(TransferTicket, lost).status) == TicketStatus.void
    assert count(db, Delivery, order_id=order_id) == 1
    assert order_of(db, order_id).delivered_quantity == Decimal(10)
    # Nor amended: it is kept as it was.
    amend = seller.post(
        f"/trace/amend/ticket/{lost}",
        data={"field": "driver_name", "new_value": "X", "reason": "r"},
    )
    assert amend.status_code == 409 and "void" in amend.get_data(as_text=True)
    assert count(db, Amendment) == 0

    # Locked and kept like a confirmed ticket: no change, no deletion.
    with app.app_context():
        s = app.extensions["meguri.db"].session()
        s.get(TransferTicket, lost).void_reason = "書き換え"
        with pytest.raises(LockedRecord):
            s.flush()
        s.rollback()
        s.delete(s.get(TransferTicket, lost))
        with pytest.raises(LockedRecord, match=r"\d{4}-\d\d-\d\d"):
            s.flush()
        s.rollback()
    assert db(lambda s: s.get(TransferTicket, lost).void_reason) == REASON

    # Its quantity is free again, and its number is never reused.
    again = ticket_id_from(issue(seller, order_id, quantity="40", destination_listing_id=site))
    codes = [x.code for x in tickets_of(db, order_id)]
    assert codes == [f"T{order_id:05d}-{n:03d}" for n in (1, 2, 3)]
    assert db(lambda s: s.get(TransferTicket, again).seq) == 3
    assert buyer.post(f"/t/{token_of(db, again)}", data={}).status_code == 302
    assert order_of(db, order_id).status == OrderStatus.delivered

    # The receipt covers the two loads that arrived; the void one is not on it.
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "所長"}
    )
    assert response.status_code == 302
    receipt = db(lambda s: s.scalars(select(Receipt)).one())
    assert receipt.volume == Decimal(50) and [x["code"] for x in receipt.content["tickets"]] == [
        f"T{order_id:05d}-001",
        f"T{order_id:05d}-003",
    ]

    # Exports: the void ticket is listed and marked, outside every total.
    for url in (f"/trace/orders/{order_id}/export.csv", f"/trace/projects/{listing_id}/export.csv"):
        rows = export_rows(seller, url)
        assert rows[0][-1] == "備考"
        counted = [r for r in rows[1:-1] if r[2] == "現場から搬出"]
        assert [(r[9], r[10]) for r in counted] == [("50", "2")]
        [marked] = [r for r in rows[1:-1] if r[2].startswith("無効")]
        assert (marked[9], marked[10], marked[11]) == ("", "", "")
        assert (
            marked[-1].startswith(f"無効 {t.code}") and REASON in marked[-1] and "40" in marked[-1]
        )
        assert rows[-1][0].startswith("合計") and (rows[-1][9], rows[-1][10]) == ("50", "2")


def test_void_refused_to_the_wrong_party_state_or_without_a_reason(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="50")
    site = str(factory.listing(contractor, "soil_want"))
    ticket_id = ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))

    no_reason = void(seller, ticket_id, reason=None)
    assert no_reason.status_code == 422
    page = no_reason.get_data(as_text=True)
    assert 'id="reason-error"' in page and "Required." in page
    blank = void(seller, ticket_id, reason="   ")
    assert blank.status_code == 422 and 'id="reason-error"' in blank.get_data(as_text=True)
    too_long = void(seller, ticket_id, reason="x" * 2001)
    assert too_long.status_code == 422 and "at most 2000 characters" in too_long.get_data(
        as_text=True
    )

    # The receiving organisation did not issue it; a stranger does not even see it.
    not_issuer = void(buyer, ticket_id)
    assert (
        not_issuer.status_code == 403
        and "which issued this ticket, can void it" in not_issuer.get_data(as_text=True)
    )
    assert 'id="void-form"' not in buyer.get(f"/trace/tickets/{ticket_id}").get_data(as_text=True)
    stranger = signed_in(app, factory.user())
    assert void(stranger, ticket_id).status_code == 404
    assert void(seller, 10**12).status_code == 404
    assert db(lambda s: s.get(TransferTicket, ticket_id).status) == TicketStatus.issued
    assert audit_events(db, "trace.ticket_void") == []

    # Once received it is the receiving site's record: no void, amend instead.
    assert buyer.post(f"/t/{token_of(db, ticket_id)}", data={}).status_code == 302
    received = void(seller, ticket_id)
    assert received.status_code == 409 and "already received" in received.get_data(as_text=True)
    t = db(lambda s: s.get(TransferTicket, ticket_id))
    assert (t.status, t.void_reason, t.voided_at) == (TicketStatus.confirmed, "", None)

    # Void twice: the second is refused and the first record stands.
    second = ticket_id_from(issue(seller, order_id, quantity="5", destination_listing_id=site))
    assert void(seller, second, reason="誤発行").status_code == 302
    twice = void(seller, second, reason="別の理由")
    assert twice.status_code == 409 and "already void" in twice.get_data(as_text=True)
    assert db(lambda s: s.get(TransferTicket, second).void_reason) == "誤発行"
    assert len(audit_events(db, "trace.ticket_void")) == 1


def test_void_onward_and_first_leg_tickets_leave_the_stockyard_chain_and_receipts(app, db, factory):
    seller, buyer, yard_client, order_id, yard, operator = proposal_order(app, factory)
    wrong = ticket_id_from(
        issue(
            seller,
            order_id,
            quantity="10",
            destination_listing_id=str(yard),
            origin_name="誤って選んだ現場",
            origin_address="東京都どこか",
        )
    )
    assert void(seller, wrong).status_code == 302
    into_yard = ticket_id_from(
        issue(seller, order_id, quantity="30", destination_listing_id=str(yard))
    )
    assert yard_client.post(f"/t/{token_of(db, into_yard)}", data={}).status_code == 302

    # The yard's onward load that never left: voided by the yard, the stock is back.
    onward = ticket_id_from(
        issue(yard_client, order_id, quantity="30", origin_listing_id=str(yard))
    )
    assert (
        issue(yard_client, order_id, quantity="1", origin_listing_id=str(yard)).status_code == 409
    )
    assert void(seller, onward).status_code == 403  # the yard issued it, not the sender
    assert void(yard_client, onward, reason="配車取消").status_code == 302
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert "received 30 · sent onward 0" in page
    final = ticket_id_from(issue(yard_client, order_id, quantity="30", origin_listing_id=str(yard)))
    assert buyer.post(f"/t/{token_of(db, final)}", data={}).status_code == 302
    assert order_of(db, order_id).delivered_quantity == Decimal(30)

    # The final receipt names the project site the soil came from, not the voided one.
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "所長"}
    )
    assert response.status_code == 302
    receipt = db(
        lambda s: s.scalars(
            select(Receipt).where(Receipt.receiving_org_id != operator.org_id)
        ).one()
    )
    names = [o["name"] for o in receipt.content["project_origins"]]
    assert names and "誤って選んだ現場" not in names
    rows = export_rows(seller, f"/trace/orders/{order_id}/export.csv")
    assert rows[-1][9] == "30" and rows[-1][10] == "1"
    voided = [x.code for x in tickets_of(db, order_id) if x.status == TicketStatus.void]
    marked = [r[-1] for r in rows if r[2].startswith("無効")]
    assert len(voided) == len(marked) == 2 and all(
        any(code in m for m in marked) for code in voided
    )


def test_a_void_load_to_the_wrong_stockyard_leaves_no_chain_link(app, db, factory):
    seller, buyer, yard_client, order_id, yard, operator = proposal_order(app, factory)
    other_operator = factory.user("stockyard_operator")
    other_yard = factory.listing(other_operator, "stockyard", title="誤りのヤード")
    wrong = ticket_id_from(
        issue(seller, order_id, quantity="10", destination_listing_id=str(other_yard))
    )
    assert 'id="chain"' in seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert void(seller, wrong, reason="搬出先の選択誤り").status_code == 302
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert 'id="chain"' not in page and "搬出先の選択誤り" in page
    other = signed_in(app, other_operator)  # the yard named on the void ticket still sees it
    ticket_page = other.get(f"/trace/tickets/{wrong}").get_data(as_text=True)
    assert 'id="void-mark"' in ticket_page and 'id="ticket-form"' not in other.get(
        f"/trace/orders/{order_id}"
    ).get_data(as_text=True)


def _race(monkeypatch, competitor) -> dict:
    """Run ``competitor`` (another request, in a thread of its own) just before the first
    conditional UPDATE of a ticket: after the request under test has read the ticket as
    issued, before it writes."""
    real = locks.settle
    seen: dict = {}

    def settle_after_competitor(*args, **kwargs):
        if not seen:
            seen["started"] = True  # the competitor's own settle runs unpatched
            thread = threading.Thread(target=lambda: seen.setdefault("response", competitor()))
            thread.start()
            thread.join(timeout=60)
            assert not thread.is_alive(), "the competing request hung"
        return real(*args, **kwargs)

    monkeypatch.setattr(locks, "settle", settle_after_competitor)
    return seen


@pytest.mark.commits  # the competing request runs in a thread of its own
def test_a_void_racing_a_confirmation_that_commits_first_loses(app, db, factory, monkeypatch):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="50")
    site = str(factory.listing(contractor, "soil_want"))
    ticket_id = ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))
    token = token_of(db, ticket_id)
    seen = _race(monkeypatch, lambda: buyer.post(f"/t/{token}", data={}))

    lost = void(seller, ticket_id)

    assert seen["response"].status_code == 302  # the receipt won
    assert lost.status_code == 409 and "already received" in lost.get_data(as_text=True)
    t = db(lambda s: s.get(TransferTicket, ticket_id))
    assert (t.status, t.voided_at, t.void_reason) == (TicketStatus.confirmed, None, "")
    assert count(db, Delivery, order_id=order_id) == 1
    assert audit_events(db, "trace.ticket_void") == []


def test_a_confirmation_racing_a_void_that_commits_first_loses(
    app, db, factory, monkeypatch, database_url
):
    if not database_url.startswith("sqlite"):
        pytest.skip(
            "on PostgreSQL the confirmation holds the ticket's row lock (FOR UPDATE) from its first "
            "read, so a void cannot commit in between; the void-side race covers the UPDATE there"
        )
    seller, buyer, yard_client, order_id, yard, _ = proposal_order(app, factory)
    # A load into the yard: confirming it writes nothing before the ticket itself, so the
    # competing void can commit between the confirmation's read and its write.
    ticket_id = ticket_id_from(
        issue(seller, order_id, quantity="30", destination_listing_id=str(yard))
    )
    seen = _race(monkeypatch, lambda: void(seller, ticket_id))

    lost = yard_client.post(f"/t/{token_of(db, ticket_id)}", data={})

    assert seen["response"].status_code == 302  # the void won
    assert lost.status_code == 409 and "was voided on" in lost.get_data(as_text=True)
    t = db(lambda s: s.get(TransferTicket, ticket_id))
    assert (t.status, t.confirmed_by_id, t.quantity_received, t.void_reason) == (
        TicketStatus.void,
        None,
        None,
        REASON,
    )
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert 'id="chain"' not in page and 'class="void"' in page  # no soil reached the yard
