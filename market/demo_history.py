"""The demo's past year, made by the real services with the clock set back to each event.

Every trade is a small story told step by step by the same functions the pages and jobs
call (publish a listing, request, accept, invoice, mark paid, check sheet, transfer
tickets and their confirmation, 受領書, pickup slots, bookings, reminders, check-ins,
no-shows with a reason, refunds with a 返還インボイス, completion), each step at its own
past instant through ``market.db.as_of``. The stories run interleaved in time order, with
the periodic jobs (reminders, expiry of listings, monthly fee statements) at their hours,
so whatever a page shows (dates, invoices, ledgers, notifications) is what the services
wrote. Deterministic for a seed; called once by ``market.demo.load_demo``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Callable, Iterator
from decimal import Decimal

from sqlalchemy.orm import Session

from market.accounts.models import Organisation, OrgKind, User
from market.catalog import services as catalog
from market.catalog.models import Listing, ListingKind
from market.db import TOKYO, as_of
from market.notifications.services import mark_read
from market.orders import deliveries, moves, refunds, requests, statements, transitions
from market.orders.models import Order, OrderStatus
from market.pickups import services as pickups
from market.trace import receipts as trace_receipts
from market.trace import services as trace
from market.trace import sheets as trace_sheets

Story = Iterator[dt.datetime]
# make(kind, lister, day) -> the form a lister would fill in for a listing of ``kind``
# on ``day`` (market.demo._make's fields).
Make = Callable[[ListingKind, Organisation, dt.date], dict]

PREFECTURES = {
    "08": "茨城県",
    "09": "栃木県",
    "10": "群馬県",
    "11": "埼玉県",
    "12": "千葉県",
    "13": "東京都",
    "14": "神奈川県",
}
DRIVERS = ["佐藤 健一", "鈴木 大輔", "高橋 誠", "田中 浩二", "渡辺 剛", "伊藤 翔太", "山本 修"]
PLATES = ["品川", "横浜", "川崎", "相模", "大宮", "所沢", "千葉", "習志野", "多摩", "宇都宮"]
MANAGERS = ["現場代理人 小林 隆", "工事主任 加藤 聡", "所長 吉田 実", "現場代理人 山口 亮"]
NO_SHOW_REASONS = [
    "予約時間に来場なし。電話にも応答なし。",
    "車両故障のため来られないと当日連絡あり。",
    "連絡なく来場されませんでした。",
]
LOAD_M3 = Decimal(6)  # a 10 t dump truck carries about 6 m³ of soil


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``hour:minute`` in Japan on ``day``, as the aware instant the clock is set to."""
    return dt.datetime.combine(day, dt.time(hour, minute), TOKYO)


def run(session: Session, stories: list[Story]) -> None:
    """Run the stories interleaved in time order: each step under the clock of the instant
    its story yielded before it, flushed there so that every default timestamp is its own."""
    queue: list[tuple[dt.datetime, int, Story]] = []
    for n, story in enumerate(stories):
        first = next(story, None)
        if first is not None:
            heapq.heappush(queue, (first, n, story))
    while queue:
        instant, n, story = heapq.heappop(queue)
        with as_of(instant):
            following = next(story, None)
            session.flush()
        if following is not None:
            if following < instant:
                raise ValueError(f"a story went back in time: {following} after {instant}")
            heapq.heappush(queue, (following, n, story))


class History:
    """The year before ``today`` for the demo organisations."""

    def __init__(
        self,
        session: Session,
        rng: random.Random,
        today: dt.date,
        orgs: dict[OrgKind, list[Organisation]],
        users: dict[int, User],
        partners: dict[int, list[Organisation]],
        make: Make,
        near: Callable[[Organisation, list[Organisation]], list[Organisation]],
    ):
        self.session, self.rng, self.today = session, rng, today
        self.orgs, self.users, self.partners, self.make = orgs, users, partners, make
        self.near = near
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _publish(self, org: Organisation, kind: ListingKind, form: dict) -> Listing:
        form["status"] = "open"
        return catalog.create_listing(self.session, self.users[org.id], kind, form)

    def _do(self, org_id: int, order_id: int, action: str, data: dict | None = None) -> None:
        transitions.perform(self.session, self.users[org_id], order_id, action, data)

    def _pay(self, order_id: int, paid_at: dt.datetime) -> Story:
        """The payee invoices (適格請求書) now; the transfer arrives by ``paid_at``."""
        order = self.session.get(Order, order_id)
        payee = moves.payer_payee(order)[1]
        self._do(payee, order_id, "issue_invoice")
        if order.status == OrderStatus.invoiced:
            yield paid_at
            self._do(payee, order_id, "mark_paid")
            self._count("invoices")

    # --- stories ------------------------------------------------------------------------

    def soil_trade(self, seller: Organisation, buyer: Organisation, day: dt.date) -> Story:
        """Surplus soil from ``seller``'s site to ``buyer``'s fill site, in truckloads from
        ``day``: ticket out, confirmed on arrival (the delivery), a 受領書 for the lot."""
        rng = self.rng
        yield at(day - dt.timedelta(days=12), 9, rng.randint(0, 59))
        offer_form = self.make(ListingKind.soil_offer, seller, day)
        offer_form.update(
            window_start=day - dt.timedelta(days=12), window_end=day + dt.timedelta(days=30)
        )
        offer = self._publish(seller, ListingKind.soil_offer, offer_form)
        want_form = self.make(ListingKind.soil_want, buyer, day)
        want_form.update(
            window_start=day - dt.timedelta(days=12), window_end=day + dt.timedelta(days=30)
        )
        classes = set(want_form.get("accepted_classes") or [])
        want_form["accepted_classes"] = sorted(classes | {offer.soil_class_code})
        want_form["min_cone_index"] = None
        want = self._publish(buyer, ListingKind.soil_want, want_form)

        loads = rng.randint(5, 10)
        yield at(day - dt.timedelta(days=9), 14, rng.randint(0, 59))
        order = requests.request_order(
            self.session,
            self.users[buyer.id],
            offer.id,
            {
                "quantity": str(LOAD_M3 * loads),
                "transport_arrangement": "supplier_delivers",
                "note": f"{want.address}の盛土に使用します。",
            },
        )
        # 逆有償: the site that gives its soil away pays the fill site to take it (the
        # receiving side invoices); the trucks are the supplier's own business.
        yield at(day - dt.timedelta(days=8), 10)
        self._do(seller.id, order.id, "accept")
        yield at(day - dt.timedelta(days=8), 11)
        yield from self._pay(order.id, at(day - dt.timedelta(days=2), 15))

        yield at(day - dt.timedelta(days=1), 16)
        pref = PREFECTURES.get(want.prefecture_code, "")
        trace_sheets.record_sheet(
            self.session,
            self.users[seller.id],
            order.id,
            {
                "destination_name": want.title[:200],
                "destination_address": want.address,
                "permit_basis": "moritsuchi_permit",
                "permit_authority": f"{pref}知事",
                "permit_no": f"盛土第{rng.randint(100, 999)}号",
                "contamination_status": "not_required",
            },
        )
        plate = f"{rng.choice(PLATES)} 100 す {rng.randint(10, 99)}-{rng.randint(10, 99)}"
        driver = rng.choice(DRIVERS)
        per_day = rng.choice([4, 6, 8])
        for n in range(loads):
            work = day + dt.timedelta(days=n // per_day)
            out = at(work, 8 + (n % per_day), rng.randint(0, 5))
            yield out
            ticket = trace.issue_ticket(
                self.session,
                self.users[seller.id],
                order.id,
                {
                    "vehicle_reg_no": plate,
                    "driver_name": driver,
                    "quantity": str(LOAD_M3),
                    "destination_listing_id": want.id,
                },
            )
            self._count("tickets")
            yield out + dt.timedelta(minutes=rng.randint(35, 50))
            trace.confirm_ticket(self.session, self.users[buyer.id], ticket.token, {})
        yield at(work + dt.timedelta(days=1), 10)
        trace_receipts.issue_receipts(
            self.session,
            self.users[buyer.id],
            order.id,
            {"destination_manager": rng.choice(MANAGERS)},
        )
        self._count("receipts")
        yield at(work + dt.timedelta(days=2), 9)
        self._do(buyer.id, order.id, "complete")
        self._count("soil_trades")

    def recycled_trade(
        self, recycler: Organisation, buyer: Organisation, day: dt.date, refund: bool
    ) -> Story:
        """A recycler's graded output, delivered by weight in two lots; when ``refund``,
        the second lot weighed short and the recycler returns the difference."""
        rng = self.rng
        yield at(day - dt.timedelta(days=20), 10, rng.randint(0, 59))
        form = self.make(ListingKind.recycled_offer, recycler, day)
        form.update(
            window_start=day - dt.timedelta(days=20), window_end=day + dt.timedelta(days=25)
        )
        offer = self._publish(recycler, ListingKind.recycled_offer, form)
        tonnes = min(Decimal(rng.choice([40, 60, 100, 150])), Decimal(offer.quantity))
        yield at(day - dt.timedelta(days=10), 13)
        order = requests.request_order(
            self.session,
            self.users[buyer.id],
            offer.id,
            {"quantity": str(tonnes), "transport_arrangement": "supplier_delivers"},
        )
        yield at(day - dt.timedelta(days=9), 10)
        self._do(
            recycler.id,
            order.id,
            "accept",
            {"transport_fee_yen": str(rng.choice([30000, 45000, 60000]))},
        )
        yield at(day - dt.timedelta(days=9), 10, 30)
        yield from self._pay(order.id, at(day - dt.timedelta(days=3), 14))
        half = (tonnes / 2).quantize(Decimal(1))
        for n, lot in enumerate((half, tonnes - half)):
            yield at(day + dt.timedelta(days=7 * n), 16)
            deliveries.record_delivery(
                self.session,
                self.users[recycler.id],
                order.id,
                {"quantity": str(lot), "reference": f"計量票 No.{rng.randint(10000, 99999)}"},
            )
        yield at(day + dt.timedelta(days=8), 11)
        if refund and refunds.refundable_yen(order) > 0:
            amount = max(1000, refunds.refundable_yen(order) // 50 // 100 * 100)
            refunds.refund_order(
                self.session,
                self.users[moves.payer_payee(order)[1]],
                order.id,
                {"amount_yen": str(amount), "reason": "計量差異（2回目の納品が約2%不足）の返金"},
            )
            self._count("refunds")
        yield at(day + dt.timedelta(days=9), 9)
        self._do(buyer.id, order.id, "complete")
        self._count("recycled_trades")

    def reuse_item(self, city: Organisation, day: dt.date, showed: bool) -> Story:
        """A bulky-waste item a partner operator buys and picks up on ``day``; now and then
        the operator does not come: the municipality records the no-show with the reason
        and, for an item that was paid for, returns the money (返還インボイス)."""
        rng = self.rng
        operator = rng.choice(self.partners[city.id])
        yield at(day - dt.timedelta(days=14), 9, rng.randint(0, 59))
        form = self.make(ListingKind.reuse_item, city, day)
        form.update(
            window_start=day - dt.timedelta(days=14),
            window_end=day + dt.timedelta(days=7),
            partner_only_until=None,
        )
        item = self._publish(city, ListingKind.reuse_item, form)
        yield at(day - dt.timedelta(days=8), rng.randint(9, 17))
        order = requests.request_order(
            self.session,
            self.users[operator.id],
            item.id,
            {"quantity": "1", "note": "引取りに伺います。"},
        )
        yield at(day - dt.timedelta(days=7), 10)
        self._do(city.id, order.id, "accept")
        yield at(day - dt.timedelta(days=7), 10, 5)
        yield from self._pay(order.id, at(day - dt.timedelta(days=4), 11))
        handed_over = yield from self._pickup(city, operator, order.id, item, day, showed)
        if not handed_over:
            if refunds.refundable_yen(order) > 0 and rng.random() < 0.2:
                yield at(day + dt.timedelta(days=1), 10)
                refunds.refund_order(
                    self.session,
                    self.users[city.id],
                    order.id,
                    {
                        "amount_yen": str(refunds.refundable_yen(order)),
                        "reason": "引取りがなかったため売買を取り消し、代金を返金します。",
                    },
                )
                self._count("refunds")
            return
        yield at(day + dt.timedelta(days=1), 9, 30)
        self._do(operator.id, order.id, "complete")
        self._count("reuse_items")

    def _pickup(self, city, operator, order_id: int, item: Listing, day: dt.date, showed: bool):
        """A slot opened, booked, reminded the day before, then a check-in or a no-show.
        Returns whether the item was handed over."""
        rng = self.rng
        yield at(day - dt.timedelta(days=4), 13)
        slot, *_ = pickups.open_slots(
            self.session,
            self.users[city.id],
            {
                "listing_id": str(item.id),
                "slot_date": day.isoformat(),
                "starts_at": "10:00",
                "ends_at": "12:00",
                "capacity": "2",
                "weeks": "1",
            },
        )
        yield at(day - dt.timedelta(days=3), rng.randint(9, 17))
        booking = pickups.book(self.session, self.users[operator.id], slot.id, order_id)
        yield at(day - dt.timedelta(days=1), 9)
        pickups.send_reminders(self.session)
        if showed:
            yield at(day, 10, rng.randint(0, 50))
            pickups.check_in(self.session, self.users[city.id], booking.id)
            self._count("checked_in")
            return True
        yield at(day, 12, 30)
        pickups.mark_no_show(
            self.session, self.users[city.id], booking.id, reason=rng.choice(NO_SHOW_REASONS)
        )
        self._count("no_shows")
        return False

    # --- periodic jobs ------------------------------------------------------------------

    def month_ends(self, first: dt.date) -> Story:
        """At each month's turn: published listings whose period ended expire, members read
        their notifications, and each payee gets the platform fee statement of the month."""
        month = first.replace(day=1)
        while True:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            if following >= self.today:  # today's jobs have not run yet
                return
            yield at(following, 6)
            catalog.expire_listings(self.session)
            statements.issue_statements(self.session, month)
            for user in self.users.values():
                mark_read(self.session, user)
            month = following

    # --- the year -----------------------------------------------------------------------

    def stories(self) -> list[Story]:
        """The twelve calendar months before this one: a couple of soil lots and a recycled
        lot a month among the contractors and recyclers, and each municipality's items (more
        in spring, when people move house), the first of each month always picked up, and
        in one month of each town's year an operator that did not come."""
        rng, today = self.rng, self.today
        contractors = self.orgs[OrgKind.contractor]
        out: list[Story] = []
        first = today.replace(day=1)
        months = []
        for _ in range(12):
            first = (first - dt.timedelta(days=1)).replace(day=1)
            months.insert(0, first)

        missed = {city.id: rng.choice(months[1:-1]) for city in self.orgs[OrgKind.municipality]}

        def day_in(month: dt.date, last: int = 28) -> dt.date:
            return month.replace(day=rng.randint(1, last))

        for month in months:
            for _ in range(2):
                seller = rng.choice(contractors)  # and a fill site of a neighbour's
                buyer = rng.choice(self.near(seller, [c for c in contractors if c != seller])[:3])
                out.append(self.soil_trade(seller, buyer, day_in(month, 20)))
            recycler = rng.choice(self.orgs[OrgKind.recycler])
            buyer = rng.choice(self.near(recycler, contractors)[:3])
            refund = month.month % 4 == 1
            out.append(self.recycled_trade(recycler, buyer, day_in(month, 18), refund))
            for city in self.orgs[OrgKind.municipality]:
                if not self.partners.get(city.id):
                    continue
                busy = 2 if month.month in (3, 4) else 0
                for n in range(rng.randint(2, 3) + busy):
                    # The first of the month is always collected; once a year at least,
                    # an operator does not come.
                    showed = n == 0 or (rng.random() > 0.07 and month != missed[city.id])
                    out.append(self.reuse_item(city, day_in(month), showed))
        out.append(self.month_ends(months[0] - dt.timedelta(days=25)))
        return out

    def load(self) -> dict[str, int]:
        run(self.session, self.stories())
        return self.counts
