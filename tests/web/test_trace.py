"""Soil traceability as the sites meet it: the check sheet before the first load, ticketed
loads with QR codes, confirmation at the receiving site, the 受領書 (page, PDF), the 実施書
CSV, amendments that keep the original, the stockyard chain, and every refusal."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.allocation.models import MatchRun, Proposal
from market.orders.models import Delivery, Order, OrderStatus
from market.trace.guard import LockedRecord
from market.trace.models import Amendment, ConfirmationSheet, Receipt, TicketStatus, TransferTicket
from tests.web.test_orders import Reader, act, request_quantity, signed_in

SHEET = {
    "permit_basis": "moritsuchi_permit",
    "permit_authority": "神奈川県",
    "permit_no": "盛土-2024-0123",
    "contamination_status": "investigated_clean",
    "destination_name": "横浜市 港北区 宅地造成現場",
    "destination_address": "神奈川県横浜市港北区新横浜1-1",
}
LOAD = {"vehicle_reg_no": "横浜 100 あ 12-34", "driver_name": "佐藤 一郎", "quantity": "5.5"}


@pytest.fixture
def db(app):
    return Reader(app)


def count(db, model, **where) -> int:
    return db(lambda s: s.scalar(select(func.count()).select_from(model).filter_by(**where)))


def order_of(db, order_id: int) -> Order:
    def load(s):
        order = s.get(Order, order_id)
        _ = order.deliveries
        return order

    return db(load)


def tickets_of(db, order_id: int) -> list[TransferTicket]:
    return db(
        lambda s: list(
            s.scalars(
                select(TransferTicket)
                .where(TransferTicket.order_id == order_id)
                .order_by(TransferTicket.seq)
            )
        )
    )


def paid_order(app, factory, quantity="600", listing_quantity=1200, **listing):
    """A supplier's soil (price 0, so nothing to pay), ordered and accepted: ready for loads."""
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(
        supplier, "soil_offer", quantity=listing_quantity, price_per_unit=0, **listing
    )
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    order_id = request_quantity(buyer, listing_id, quantity=quantity)
    assert act(seller, order_id, "accept").status_code == 302
    for client in (seller, buyer):  # the payee requests payment; at ¥0 the order is waived to paid
        act(client, order_id, "issue_invoice")
    return supplier, contractor, seller, buyer, order_id, listing_id


def issue(client, order_id: int, **form):
    return client.post(f"/trace/orders/{order_id}/tickets", data={**LOAD, **form})


def ticket_id_from(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def token_of(db, ticket_id: int) -> str:
    return db(lambda s: s.get(TransferTicket, ticket_id).token)


def test_a_soil_order_is_ticketed_confirmed_receipted_exported_and_amended(app, db, factory):
    supplier, contractor, seller, buyer, order_id, listing_id = paid_order(app, factory)
    assert order_of(db, order_id).status == OrderStatus.paid
    assert f"/trace/orders/{order_id}" in seller.get(f"/orders/{order_id}").get_data(as_text=True)

    # 600 m³: the check sheet comes before the first load.
    refused = issue(seller, order_id)
    assert refused.status_code == 409
    assert "check sheet" in refused.get_data(as_text=True)
    assert count(db, TransferTicket) == 0
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert "Required before the first load" in page
    assert seller.post(f"/trace/orders/{order_id}/sheet", data=SHEET).status_code == 302

    # The truck leaves: a ticket with a QR code pointing at the confirm page.
    ticket_id = ticket_id_from(issue(seller, order_id))
    t = tickets_of(db, order_id)[0]
    assert (t.code, t.status, t.quantity, t.receiving_org_id) == (
        f"T{order_id:05d}-001",
        TicketStatus.issued,
        Decimal("5.5"),
        contractor.org_id,
    )
    assert (
        t.origin_name.endswith("江東区 発生土 第2b種 1,200m³")
        and t.destination_name == SHEET["destination_name"]
    )
    assert t.matches_plan is True and len(t.token) >= 32
    page = seller.get(f"/trace/tickets/{ticket_id}").get_data(as_text=True)
    assert "<svg" in page and f"/t/{t.token}" in page
    qr = seller.get(f"/trace/tickets/{ticket_id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"

    # Only the receiving site confirms; the sender's click is refused and changes nothing.
    refused = seller.post(f"/t/{t.token}", data={})
    assert refused.status_code == 403
    assert "the receiving site, can confirm" in refused.get_data(as_text=True)
    assert tickets_of(db, order_id)[0].status == TicketStatus.issued

    page = buyer.get(f"/t/{t.token}").get_data(as_text=True)
    assert 'id="confirm-form"' in page
    done = buyer.post(f"/t/{t.token}", data={"quantity_received": "5.5"})
    assert done.status_code == 302
    t = tickets_of(db, order_id)[0]
    assert (t.status, t.quantity_received, t.confirmed_by_org_id) == (
        TicketStatus.confirmed,
        Decimal("5.5"),
        contractor.org_id,
    )
    order = order_of(db, order_id)
    assert order.status == OrderStatus.in_delivery
    assert [(d.quantity, d.reference) for d in order.deliveries] == [
        (Decimal("5.5"), f"Ticket {t.code}")
    ]
    assert t.delivery_id == order.deliveries[0].id

    # A second scan changes nothing.
    again = buyer.post(f"/t/{t.token}", data={"quantity_received": "1"}, follow_redirects=True)
    assert again.status_code == 200 and "already confirmed; nothing changed" in again.get_data(
        as_text=True
    )
    assert count(db, Delivery, order_id=order_id) == 1
    assert tickets_of(db, order_id)[0].quantity_received == Decimal("5.5")

    # A second load with a discrepancy.
    second = ticket_id_from(issue(seller, order_id, quantity="6"))
    token = token_of(db, second)
    assert (
        buyer.post(
            f"/t/{token}",
            data={"quantity_received": "5.8", "discrepancy_note": "荷こぼれ", "time_in": ""},
        ).status_code
        == 302
    )

    # The receiving site issues the 受領書 with the fields the rules name.
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "現場所長 田中"}
    )
    assert response.status_code == 302
    receipt = buyer.get(response.headers["Location"]).get_data(as_text=True)
    for text in (
        SHEET["destination_name"],
        SHEET["destination_address"],
        "現場所長 田中",
        "江東区 発生土 第2b種",
        "11.3 m³",
        "運搬完了日",
        "一致",
        "荷こぼれ",
    ):
        assert text in receipt, text
    receipt_id = db(lambda s: s.scalar(select(Receipt.id)))
    assert seller.get(f"/trace/receipts/{receipt_id}").status_code == 200  # the sender keeps it too
    pdf = seller.get(f"/trace/receipts/{receipt_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    nothing_left = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "田中"}
    )
    assert nothing_left.status_code == 409
    assert "no confirmed loads at your site without a receipt" in nothing_left.get_data(
        as_text=True
    )
    assert count(db, Receipt) == 1

    # The 実施書 export: Japanese columns, totals by soil class and destination.
    export = seller.get(f"/trace/orders/{order_id}/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["工事名称", "工事場所", "区間", "土質区分"]
    assert rows[1][3] == "第2b種" and rows[1][5] == SHEET["destination_name"]
    assert rows[1][9] == "11.3" and rows[1][10] == "2" and rows[1][12].startswith("R")
    assert rows[-1][0].startswith("合計") and rows[-1][9] == "11.3"
    assert seller.get(f"/trace/projects/{listing_id}/export.csv").status_code == 200

    # An amendment keeps the original: the stored ticket is unchanged, the view shows both.
    amended = seller.post(
        f"/trace/amend/ticket/{ticket_id}",
        data={"field": "driver_name", "new_value": "佐藤 二郎", "reason": "運転者の記入誤り"},
    )
    assert amended.status_code == 302
    assert tickets_of(db, order_id)[0].driver_name == "佐藤 一郎"
    page = seller.get(f"/trace/tickets/{ticket_id}").get_data(as_text=True)
    assert (
        "佐藤 二郎" in page and "“佐藤 一郎” → “佐藤 二郎”" in page and "運転者の記入誤り" in page
    )
    assert "佐藤 二郎" in seller.get(f"/trace/receipts/{receipt_id}").get_data(as_text=True)
    row = db(lambda s: s.scalars(select(Amendment)).one())
    assert (row.old_value, row.new_value, row.amended_by_org_id) == (
        "佐藤 一郎",
        "佐藤 二郎",
        supplier.org_id,
    )


def test_locked_records_refuse_updates_and_deletes(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="100")
    site = factory.listing(contractor, "soil_want")
    ticket_id = ticket_id_from(
        issue(seller, order_id, quantity="10", destination_listing_id=str(site))
    )
    assert buyer.post(f"/t/{token_of(db, ticket_id)}", data={}).status_code == 302
    assert (
        buyer.post(
            f"/trace/orders/{order_id}/receipts", data={"destination_manager": "田中"}
        ).status_code
        == 302
    )

    with app.app_context():
        s = app.extensions["meguri.db"].session()
        ticket = s.get(TransferTicket, ticket_id)
        ticket.driver_name = "someone else"
        with pytest.raises(LockedRecord):
            s.flush()
        s.rollback()
        for model in (TransferTicket, Receipt):
            s.delete(s.scalars(select(model)).first())
            with pytest.raises(LockedRecord, match=r"\d{4}-\d\d-\d\d"):  # kept until that date
                s.flush()
            s.rollback()
        s.delete(s.get(Order, order_id))  # closing the order never takes the records along
        with pytest.raises(LockedRecord):
            s.flush()
        s.rollback()
    assert count(db, TransferTicket) == 1 and count(db, Receipt) == 1
    assert tickets_of(db, order_id)[0].driver_name == LOAD["driver_name"]

    # Closing the listing leaves every record readable.
    listing_id = order_of(db, order_id).listing_id
    assert seller.post(f"/listings/{listing_id}/close").status_code in (302, 303, 200)
    assert seller.get(f"/trace/orders/{order_id}").status_code == 200


def test_tickets_refused_outside_delivery_or_beyond_the_order(app, db, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=0)
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    order_id = request_quantity(buyer, listing_id, quantity="20")
    site = str(factory.listing(contractor, "soil_want"))
    refused = issue(seller, order_id, destination_listing_id=site)  # requested, not in delivery
    assert refused.status_code == 409 and "paid or in delivery" in refused.get_data(as_text=True)
    assert act(seller, order_id, "accept").status_code == 302
    assert (
        issue(seller, order_id, destination_listing_id=site).status_code == 409
    )  # accepted, not paid
    for client in (seller, buyer):
        act(client, order_id, "issue_invoice")
    assert order_of(db, order_id).status == OrderStatus.paid

    no_plan = issue(seller, order_id)
    assert no_plan.status_code == 422 and "no planned destination" in no_plan.get_data(as_text=True)
    too_much = issue(seller, order_id, quantity="21", destination_listing_id=site)
    assert too_much.status_code == 409
    assert "Only 20 m3 of the order are not yet ticketed or delivered" in too_much.get_data(
        as_text=True
    )
    ticket_id_from(issue(seller, order_id, quantity="15", destination_listing_id=site))
    too_much = issue(
        buyer, order_id, quantity="6", destination_listing_id=site
    )  # 15 already on the road
    assert too_much.status_code == 409 and "Only 5 m3" in too_much.get_data(as_text=True)

    missing = issue(
        seller, order_id, vehicle_reg_no="", driver_name="", quantity="abc", time_out="tomorrow"
    )
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert (
        page.count("Required.") >= 2 and "Must be a number." in page and "YYYY-MM-DD HH:MM" in page
    )
    future = issue(
        seller, order_id, quantity="1", time_out="2999-01-01T10:00", destination_listing_id=site
    )
    assert future.status_code == 422 and "Cannot be in the future." in future.get_data(as_text=True)
    bad_site = issue(seller, order_id, quantity="1", destination_listing_id=str(listing_id))
    assert (
        bad_site.status_code == 422
        and "soil-receiving site or a stockyard" in bad_site.get_data(as_text=True)
    )
    assert len(tickets_of(db, order_id)) == 1

    # A third organisation sees nothing of it.
    stranger = signed_in(app, factory.user())
    assert stranger.get(f"/trace/orders/{order_id}").status_code == 404
    assert issue(stranger, order_id, quantity="1").status_code == 404
    token = tickets_of(db, order_id)[0].token
    assert stranger.get(f"/t/{token}").status_code == 404
    assert stranger.post(f"/t/{token}", data={}).status_code == 404
    assert stranger.get(f"/trace/orders/{order_id}/export.csv").status_code == 404
    assert buyer.get(f"/trace/projects/{listing_id}/export.csv").status_code == 404
    assert seller.get("/t/not-a-token").status_code == 404


def test_confirmation_bad_input_changes_nothing(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="50")
    site = str(factory.listing(contractor, "soil_want"))
    token = token_of(
        db, ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=site))
    )
    for form, field_text in [
        ({"quantity_received": "11"}, "Cannot exceed the 10 m3"),
        ({"quantity_received": "9"}, "Say what differs"),
        ({"quantity_received": "-1"}, "Must be more than 0."),
        ({"time_in": "2001-01-01T00:00"}, "Cannot be before the time out"),
        ({"time_in": "not a time"}, "YYYY-MM-DD HH:MM"),
    ]:
        response = buyer.post(f"/t/{token}", data=form)
        assert response.status_code == 422, form
        assert field_text in response.get_data(as_text=True), form
    assert tickets_of(db, order_id)[0].status == TicketStatus.issued
    assert count(db, Delivery, order_id=order_id) == 0
    assert order_of(db, order_id).status == OrderStatus.paid


def test_sheet_and_amendment_bad_input(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory)
    missing = seller.post(
        f"/trace/orders/{order_id}/sheet", data={"permit_basis": "moritsuchi_permit"}
    )
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert (
        "Enter the permit number." in page
        and "Choose the soil-contamination procedure status." in page
    )
    assert (
        buyer.post(f"/trace/orders/{order_id}/sheet", data=SHEET).status_code == 403
    )  # the sender records it
    assert count(db, ConfirmationSheet) == 0
    assert seller.post(f"/trace/orders/{order_id}/sheet", data=SHEET).status_code == 302
    twice = seller.post(f"/trace/orders/{order_id}/sheet", data=SHEET)
    assert twice.status_code == 409 and "amendment" in twice.get_data(as_text=True)
    sheet_id = db(lambda s: s.scalar(select(ConfirmationSheet.id)))

    no_reason = seller.post(
        f"/trace/amend/sheet/{sheet_id}", data={"field": "permit_no", "new_value": "X-1"}
    )
    assert no_reason.status_code == 422 and "Required." in no_reason.get_data(as_text=True)
    locked_field = seller.post(
        f"/trace/amend/sheet/{sheet_id}",
        data={"field": "destination_name", "new_value": "X", "reason": "r"},
    )
    assert locked_field.status_code == 422 and "cannot be amended" in locked_field.get_data(
        as_text=True
    )
    not_theirs = buyer.post(
        f"/trace/amend/sheet/{sheet_id}",
        data={"field": "permit_no", "new_value": "X-1", "reason": "r"},
    )
    assert not_theirs.status_code == 403
    same = seller.post(
        f"/trace/amend/sheet/{sheet_id}",
        data={"field": "permit_no", "new_value": SHEET["permit_no"], "reason": "r"},
    )
    assert same.status_code == 422
    assert "Same as the current value." in same.get_data(as_text=True)
    bad_choice = seller.post(
        f"/trace/amend/sheet/{sheet_id}",
        data={"field": "permit_basis", "new_value": "bribe", "reason": "r"},
    )
    assert bad_choice.status_code == 422
    assert "Choose on what basis the destination is lawful." in bad_choice.get_data(as_text=True)
    assert count(db, Amendment) == 0
    assert (
        seller.post(
            f"/trace/amend/sheet/{sheet_id}",
            data={
                "field": "permit_no",
                "new_value": "盛土-2024-0999",
                "reason": "許可番号の転記誤り",
            },
        ).status_code
        == 302
    )
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert "盛土-2024-0999" in page and "“盛土-2024-0123” → “盛土-2024-0999”" in page
    assert db(lambda s: s.get(ConfirmationSheet, sheet_id).permit_no) == SHEET["permit_no"]
    assert seller.post("/trace/amend/nothing/1", data={}).status_code == 404


def test_a_load_to_another_site_is_flagged_on_the_receipt(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="40")
    other_site = factory.listing(contractor, "soil_want", title="別の受入地")
    assert seller.post(f"/trace/orders/{order_id}/sheet", data=SHEET).status_code == 302
    ticket_id = ticket_id_from(
        issue(seller, order_id, quantity="8", destination_listing_id=str(other_site))
    )
    assert tickets_of(db, order_id)[0].matches_plan is False
    assert "Not the planned destination" in seller.get(f"/trace/tickets/{ticket_id}").get_data(
        as_text=True
    )
    assert buyer.post(f"/t/{token_of(db, ticket_id)}", data={}).status_code == 302
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "田中"}
    )
    receipt = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "不一致" in receipt and SHEET["destination_name"] in receipt and "別の受入地" in receipt


def proposal_order(app, factory, via_registered: bool = True):
    """A match through a stockyard: supplier → yard → demand site, agreed as an order."""
    from market.accounts.models import User
    from market.orders.requests import order_from_proposal

    supplier, receiver = factory.user(), factory.user()
    operator = factory.user("stockyard_operator")
    supply = factory.listing(supplier, "soil_offer", quantity=300, price_per_unit=0)
    demand = factory.listing(receiver, "soil_want", quantity=300, title="新横浜 道路盛土")
    yard = factory.listing(operator, "stockyard", title="京葉ヤード")
    with app.app_context():
        s = app.extensions["meguri.db"].session()
        if not via_registered:
            s.get(User, operator.id).organisation.stockyard_registration_no = None
        run = MatchRun(family="soil", region=["13"], status="done")
        s.add(run)
        s.flush()
        proposal = Proposal(
            run_id=run.id,
            supply_id=supply,
            demand_id=demand,
            via_id=yard,
            quantity=100,
            road_km=30,
            transport_cost=1,
            co2_kg=1,
            net_benefit=1,
            supply_saving=1,
            demand_saving=1,
        )
        s.add(proposal)
        s.flush()
        order = order_from_proposal(
            s,
            listing_id=supply,
            counterparty_org_id=receiver.org_id,
            quantity=Decimal(100),
            proposal_ref=f"proposal:{proposal.id}",
        )
        s.commit()
        order_id = order.id
    seller, buyer, yard_client = (
        signed_in(app, supplier),
        signed_in(app, receiver),
        signed_in(app, operator),
    )
    for client in (seller, buyer):
        act(client, order_id, "issue_invoice")
    return seller, buyer, yard_client, order_id, yard, operator


def test_soil_through_a_stockyard_is_followed_to_its_final_destination(app, db, factory):
    seller, buyer, yard_client, order_id, yard, operator = proposal_order(app, factory)
    assert order_of(db, order_id).status == OrderStatus.paid
    into_yard = ticket_id_from(
        issue(seller, order_id, quantity="30", destination_listing_id=str(yard))
    )
    t = tickets_of(db, order_id)[0]
    assert (t.transit, t.receiving_org_id, t.matches_plan) == (True, operator.org_id, True)
    assert "Registered stockyard: SY-13-0001, takes over the duty" in seller.get(
        f"/trace/tickets/{into_yard}"
    ).get_data(as_text=True)

    # The receiver of the order cannot confirm a load at the yard; the yard can.
    assert buyer.post(f"/t/{t.token}", data={}).status_code == 403
    assert yard_client.post(f"/t/{t.token}", data={}).status_code == 302
    assert count(db, Delivery, order_id=order_id) == 0  # not yet at its final destination
    assert (
        yard_client.post(
            f"/trace/orders/{order_id}/receipts", data={"destination_manager": "ヤード長"}
        ).status_code
        == 302
    )
    yard_receipt = db(lambda s: s.scalars(select(Receipt)).one())
    assert yard_receipt.content["stockyard_registration_no"] == "SY-13-0001"

    # Onward from the yard: only its operator, only what the yard holds of this order.
    assert issue(seller, order_id, quantity="5", origin_listing_id=str(yard)).status_code == 403
    too_much = issue(yard_client, order_id, quantity="31", origin_listing_id=str(yard))
    assert (
        too_much.status_code == 409
        and "Only 30 m3 of this order are at the stockyard" in too_much.get_data(as_text=True)
    )
    onward = ticket_id_from(
        issue(yard_client, order_id, quantity="30", origin_listing_id=str(yard))
    )
    t2 = tickets_of(db, order_id)[1]
    assert (t2.onward, t2.receiving_org_id, t2.matches_plan) == (
        True,
        order_of(db, order_id).buyer_org_id,
        True,
    )
    assert buyer.post(f"/t/{token_of(db, onward)}", data={}).status_code == 302
    assert order_of(db, order_id).delivered_quantity == Decimal(30)

    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert 'id="chain"' in page and "京葉ヤード" in page and "SY-13-0001" in page
    response = buyer.post(
        f"/trace/orders/{order_id}/receipts", data={"destination_manager": "所長"}
    )
    final = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "新横浜 道路盛土" in final and "発生元工事現場" in final and "一致" in final
    rows = list(
        csv.reader(
            io.StringIO(seller.get(f"/trace/orders/{order_id}/export.csv").data.decode("utf-8-sig"))
        )
    )
    assert {r[2] for r in rows[1:-1]} == {"現場から搬出", "ストックヤードから搬出"}
    assert any(r[7] == "SY-13-0001" for r in rows)
    assert rows[-1][9] == "30"


def test_an_unregistered_stockyard_is_marked(app, db, factory):
    seller, buyer, yard_client, order_id, yard, _ = proposal_order(
        app, factory, via_registered=False
    )
    ticket_id_from(issue(seller, order_id, quantity="10", destination_listing_id=str(yard)))
    page = seller.get(f"/trace/orders/{order_id}").get_data(as_text=True)
    assert "Not a registered stockyard" in page


def test_unknown_or_out_of_range_ids_are_not_found(app, db, factory):
    supplier, contractor, seller, buyer, order_id, _ = paid_order(app, factory, quantity="10")
    huge = 10**12
    for url in (
        f"/trace/orders/{huge}",
        f"/trace/tickets/{huge}",
        f"/trace/tickets/{huge}/qr.svg",
        f"/trace/receipts/{huge}",
        f"/trace/receipts/{huge}.pdf",
        f"/trace/orders/{huge}/export.csv",
        f"/trace/projects/{huge}/export.csv",
        "/t/" + "x" * 100,
    ):
        assert seller.get(url).status_code == 404, url
    assert seller.post(f"/trace/amend/ticket/{huge}", data={}).status_code == 404
    bad_site = issue(seller, order_id, quantity="1", destination_listing_id=str(huge))
    assert bad_site.status_code == 422 and "No such listing." in bad_site.get_data(as_text=True)
