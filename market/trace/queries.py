"""Read side of trace: current views (original + amendments), the stockyard chain, the
受領書 content and the 実施書-shaped export rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.catalog.models import Listing, SoilClass
from market.db import to_japan, utcnow
from market.factors import calc
from market.factors.tables import family_of, load_factors, tonnes
from market.orders.models import Order
from market.trace.models import (
    Amendment,
    ConfirmationSheet,
    Receipt,
    ReceiptTicket,
    TicketStatus,
    TransferTicket,
)
from market.trace.plans import planned_destination

AMENDABLE: dict[str, tuple[str, ...]] = {
    "ticket": (
        "vehicle_reg_no",
        "driver_name",
        "time_out",
        "time_in",
        "discrepancy_note",
        "origin_name",
        "origin_address",
    ),
    "sheet": ("permit_authority", "permit_no", "permit_basis", "contamination_status", "note"),
    "receipt": ("destination_manager",),
}
TIME_FIELDS = ("time_out", "time_in")


def amendments_for(session: Session, record_type: str, record_id: int) -> list[Amendment]:
    return list(
        session.scalars(
            select(Amendment)
            .where(Amendment.record_type == record_type, Amendment.record_id == record_id)
            .order_by(Amendment.id)
        ).all()
    )


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(getattr(value, "value", value))


def current_values(session: Session, record_type: str, record) -> dict[str, str]:
    """The amendable fields as text: the original values with every amendment applied."""
    values = {field: _as_text(getattr(record, field)) for field in AMENDABLE[record_type]}
    for amendment in amendments_for(session, record_type, record.id):
        values[amendment.field] = amendment.new_value
    return values


@dataclass
class TicketView:
    """A ticket as it stands now: the stored original plus its amendments."""

    ticket: TransferTicket
    values: dict[str, str]
    amendments: list[Amendment]

    def __getattr__(self, name):
        values = self.__dict__.get("values", {})
        if name in values:
            if name in TIME_FIELDS:
                return dt.datetime.fromisoformat(values[name]) if values[name] else None
            return values[name]
        return getattr(self.__dict__["ticket"], name)

    @property
    def time_out_jst(self):
        return to_japan(self.time_out)

    @property
    def time_in_jst(self):
        return to_japan(self.time_in)


def ticket_view(session: Session, ticket: TransferTicket) -> TicketView:
    return TicketView(
        ticket,
        current_values(session, "ticket", ticket),
        amendments_for(session, "ticket", ticket.id),
    )


def tickets(session: Session, order_id: int) -> list[TicketView]:
    rows = session.scalars(
        select(TransferTicket)
        .where(TransferTicket.order_id == order_id)
        .order_by(TransferTicket.seq)
    ).all()
    return [ticket_view(session, t) for t in rows]


def tickets_for_org(
    session: Session, org_id: int, status: TicketStatus | None, page: int, per_page: int
) -> tuple[list[TicketView], int]:
    """A page of the tickets an organisation is party to (newest first): of its orders as
    buyer or seller, or issued by it, or sent to it. Each ticket is also checked with
    ``services.involved_org_ids`` by whoever reads it in full."""
    mine = or_(
        TransferTicket.issued_by_org_id == org_id,
        TransferTicket.receiving_org_id == org_id,
        TransferTicket.order_id.in_(
            select(Order.id).where(or_(Order.buyer_org_id == org_id, Order.seller_org_id == org_id))
        ),
    )
    query = select(TransferTicket).where(mine)
    if status is not None:
        query = query.where(TransferTicket.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(TransferTicket.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return [ticket_view(session, t) for t in rows], total


def receipt_numbers(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """The 受領書 number each ticket is on, if any."""
    if not ticket_ids:
        return {}
    return dict(
        session.execute(
            select(ReceiptTicket.ticket_id, Receipt.number)
            .join(Receipt, Receipt.id == ReceiptTicket.receipt_id)
            .where(ReceiptTicket.ticket_id.in_(ticket_ids))
        ).all()
    )


def receipts(session: Session, order_id: int) -> list[Receipt]:
    return list(
        session.scalars(
            select(Receipt).where(Receipt.order_id == order_id).order_by(Receipt.id)
        ).all()
    )


def receipt_ticket_ids(session: Session, receipt_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ReceiptTicket.ticket_id).where(ReceiptTicket.receipt_id == receipt_id)
        )
    )


@dataclass
class YardLink:
    """A stockyard the order's soil passed through."""

    listing: Listing
    operator: Organisation
    received: Decimal
    sent_onward: Decimal

    @property
    def registration_no(self) -> str | None:
        return self.operator.stockyard_registration_no or None

    @property
    def takes_over(self) -> bool:
        """A registered stockyard takes over the check and receipt duties (2024-06 rule)."""
        return bool(self.registration_no)


def chain(session: Session, order_id: int) -> list[YardLink]:
    rows = session.scalars(
        select(TransferTicket)
        .where(TransferTicket.order_id == order_id)
        .order_by(TransferTicket.seq)
    ).all()
    links: dict[int, YardLink] = {}
    for t in rows:
        if t.void:  # never left, or never arrived: no soil passed through the yard on it
            continue
        if t.transit and t.destination_listing_id is not None:
            link = links.setdefault(
                t.destination_listing_id,
                YardLink(t.destination_listing, t.receiving_org, Decimal(0), Decimal(0)),
            )
            if t.status == TicketStatus.confirmed:
                link.received += Decimal(t.quantity_received)
        if t.onward and t.origin_listing_id in links:
            links[t.origin_listing_id].sent_onward += Decimal(t.quantity)
    return list(links.values())


def _registration(session: Session, t: TransferTicket) -> str:
    if t.destination_kind != "stockyard":
        return ""
    return session.get(Organisation, t.receiving_org_id).stockyard_registration_no or ""


def receipt_content(
    session: Session, order: Order, org: Organisation, manager: str, group: list[TransferTicket]
) -> dict:
    """The 受領書 as issued: destination name/address and manager, origin site name/address,
    volume, completion date of the haul, the loads, and the check against the plan."""
    views = [ticket_view(session, t) for t in group]
    first = views[0]
    origins = []
    for v in views:
        origin = {"name": v.origin_name, "address": v.origin_address}
        if origin not in origins:
            origins.append(origin)
    project_origins = []
    if any(v.onward for v in views):
        for t in session.scalars(
            select(TransferTicket).where(
                TransferTicket.order_id == order.id,
                TransferTicket.onward.is_(False),
                TransferTicket.status != TicketStatus.void,
            )
        ).all():
            origin = {"name": t.origin_name, "address": t.origin_address}
            if origin not in project_origins:
                project_origins.append(origin)
    volume = sum((Decimal(t.quantity_received) for t in group), Decimal(0))
    haul = receipt_haul(session, order, group)
    completed = max(v.time_in for v in views)
    plan = planned_destination(session, order)
    registration = _registration(session, first.ticket)
    return {
        "issued_at": utcnow().isoformat(),
        "order_id": order.id,
        "description": order.description,
        "receiver": {"name": org.name, "address": org.address or ""},
        "destination": {
            "name": first.destination_name,
            "address": first.destination_address,
            "kind": first.destination_kind,
        },
        "destination_manager": manager,
        "origins": origins,
        "project_origins": project_origins,
        "sender": order.seller.name,
        "volume": str(volume),
        "unit": order.unit,
        "completed_on": to_japan(completed).date().isoformat(),
        "soil_classes": sorted({v.soil_class_code for v in views if v.soil_class_code}),
        "stockyard_registration_no": registration,
        "tickets": [
            {
                "code": v.code,
                "time_out": to_japan(v.time_out).strftime("%Y-%m-%d %H:%M"),
                "time_in": to_japan(v.time_in).strftime("%Y-%m-%d %H:%M"),
                "vehicle": v.vehicle_reg_no,
                "driver": v.driver_name,
                "quantity": str(v.quantity),
                "received": str(v.quantity_received),
                "discrepancy": v.discrepancy_note,
                "matches_plan": v.matches_plan,
                "km": km,
            }
            for v, km in zip(views, haul.pop("km"), strict=True)
        ],
        "haul": haul,
        "plan": None
        if plan is None
        else {
            "name": plan.destination.name,
            "address": plan.destination.address,
            "source": plan.source,
            "via": None
            if plan.via is None
            else {"name": plan.via.title, "address": plan.via.address or ""},
        },
        "matches_plan": None
        if any(v.matches_plan is None for v in views)
        else all(v.matches_plan for v in views),
    }


def leg_km(t: TransferTicket) -> float | None:
    """Straight-line km of the ticket's leg, origin pin → destination pin (None without both)."""
    if None in (t.origin_lat, t.origin_lon, t.destination_lat, t.destination_lon):
        return None
    return calc.great_circle_km(t.origin_lat, t.origin_lon, t.destination_lat, t.destination_lon)


def receipt_haul(session: Session, order: Order, group: list[TransferTicket]) -> dict:
    """Distance and transport CO2 of the loads on one receipt, from the legs their tickets
    recorded (origin pin → destination pin, straight line, × the road factor): never from
    the organisations' registered addresses. ``km`` is each load's straight-line leg ("" when
    an end has no pin); a load counts its own truck, the empty return included."""
    fs = load_factors(session)
    road_factor = fs.get("transport", "road_factor", 1.3)
    payload = fs.get(family_of(order.listing), "default_payload_kg", 10000.0)
    kms, road_km, co2, unknown = [], 0.0, 0.0, 0
    for t in group:
        km = leg_km(t)
        kms.append("" if km is None else f"{km:.1f}")
        if km is None:
            unknown += 1
            continue
        road = round(km * road_factor, 1)
        weight = tonnes(fs, order, float(t.quantity_received)) or 0.0
        road_km += road
        co2 += calc.haul_co2(weight, road, payload, k=fs.tonkilo).co2_kg
    return {
        "km": kms,
        "basis": "legs",
        "road_factor": road_factor,
        "road_km": f"{road_km:.1f}",
        "transport_co2_kg": f"{co2:.1f}",
        "loads_without_pins": unknown,
    }


@dataclass
class ReceiptView:
    receipt: Receipt
    c: dict
    manager: str
    amendments: list[Amendment]
    later_ticket_amendments: list[Amendment]


def receipt_view(session: Session, receipt: Receipt) -> ReceiptView:
    manager = current_values(session, "receipt", receipt)["destination_manager"]
    ids = receipt_ticket_ids(session, receipt.id)
    later = (
        list(
            session.scalars(
                select(Amendment)
                .where(
                    Amendment.record_type == "ticket",
                    Amendment.record_id.in_(ids),
                    Amendment.created_at >= receipt.created_at,
                )
                .order_by(Amendment.id)
            ).all()
        )
        if ids
        else []
    )
    return ReceiptView(
        receipt, receipt.content, manager, amendments_for(session, "receipt", receipt.id), later
    )


def sheet_view(session: Session, sheet: ConfirmationSheet | None) -> dict | None:
    if sheet is None:
        return None
    return {
        "sheet": sheet,
        "values": current_values(session, "sheet", sheet),
        "amendments": amendments_for(session, "sheet", sheet.id),
    }


# --- 実施書 export ----------------------------------------------------------------------

EXPORT_COLUMNS = [
    "工事名称",
    "工事場所",
    "区間",
    "土質区分",
    "搬出先の種類",
    "搬出先名称",
    "搬出先住所",
    "登録ストックヤード番号",
    "運搬距離(km・直線)",
    "搬出量(m³)",
    "台数",
    "搬出完了日",
    "受領書番号",
    "計画との照合",
    "備考",
]
VOID_LEG = "無効伝票（集計外）"
KIND_JA = {
    "site": "他の工事現場等",
    "stockyard": "ストックヤード",
    "declared": "確認結果票の搬出先",
}


def _km(t: TransferTicket) -> str:
    km = leg_km(t)
    return "" if km is None else f"{km:.1f}"


def export_rows(session: Session, orders: list[Order]) -> list[list[str]]:
    """Confirmed loads summed by project, leg, soil class and destination (the 実施書 totals).
    Void tickets follow, one row each, marked 無効 with who, when and why: kept on record,
    with no quantity or load count, so no total and no spreadsheet sum includes them."""
    classes = {c.code: c.name_ja for c in session.scalars(select(SoilClass))}
    groups: dict[tuple, dict] = {}
    voided: list[list[str]] = []
    for order in orders:
        _group_confirmed(session, order, classes, groups)
        voided += [
            [*_ticket_key(session, order, t, VOID_LEG, classes), "", "", "", "", ""]
            + [void_note(ticket_view(session, t))]
            for t in _tickets(session, order.id, TicketStatus.void)
        ]
    rows = []
    total, loads = Decimal(0), 0
    for key, g in groups.items():
        match = "一致" if g["match"] == {True} else "不一致" if False in g["match"] else "計画なし"
        rows.append(
            [
                *key,
                _fmt(g["qty"]),
                str(g["loads"]),
                g["done"].isoformat(),
                " ".join(g["receipts"]),
                match,
                "",
            ]
        )
        if key[2] == "現場から搬出":
            total += g["qty"]
            loads += g["loads"]
    rows.extend(voided)
    rows.append(["合計（現場から搬出）", *[""] * 8, _fmt(total), str(loads), *[""] * 4])
    return rows


def _tickets(session: Session, order_id: int, status: TicketStatus) -> list[TransferTicket]:
    return list(
        session.scalars(
            select(TransferTicket)
            .where(TransferTicket.order_id == order_id, TransferTicket.status == status)
            .order_by(TransferTicket.seq)
        )
    )


def _ticket_key(session: Session, order: Order, t: TransferTicket, leg: str, classes) -> tuple:
    """Project, leg, soil class, destination and distance: what an export row is about."""
    site = order.listing
    return (
        site.title,
        site.address or "",
        leg,
        classes.get(t.soil_class_code or "", t.soil_class_code or ""),
        KIND_JA.get(t.destination_kind, t.destination_kind),
        t.destination_name,
        t.destination_address,
        _registration(session, t),
        _km(t),
    )


def _group_confirmed(session: Session, order: Order, classes: dict, groups: dict) -> None:
    """Add the order's confirmed loads to ``groups``: quantity, loads, last day, receipts
    and whether each went where planned."""
    receipt_no = {
        tid: r.number
        for r in receipts(session, order.id)
        for tid in receipt_ticket_ids(session, r.id)
    }
    for t in _tickets(session, order.id, TicketStatus.confirmed):
        leg = "ストックヤードから搬出" if t.onward else "現場から搬出"
        key = _ticket_key(session, order, t, leg, classes)
        g = groups.setdefault(
            key, {"qty": Decimal(0), "loads": 0, "done": None, "receipts": [], "match": set()}
        )
        g["qty"] += Decimal(t.quantity_received)
        g["loads"] += 1
        day = to_japan(t.time_in).date()
        g["done"] = max(g["done"], day) if g["done"] else day
        if t.id in receipt_no and receipt_no[t.id] not in g["receipts"]:
            g["receipts"].append(receipt_no[t.id])
        g["match"].add(t.matches_plan)


def void_note(t: TicketView) -> str:
    """The record of a void ticket in one line (Japanese, like the rest of the export)."""
    who = t.voided_by.display_name if t.voided_by else ""
    org = t.voided_by_org.name if t.voided_by_org else ""
    return (
        f"無効 {t.code}（積載 {_fmt(Decimal(t.quantity))} {t.unit}、出発 {to_japan(t.time_out):%Y-%m-%d %H:%M}）"
        f" 取消 {to_japan(t.voided_at):%Y-%m-%d %H:%M} {org} {who} 理由: {t.void_reason}"
    )


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value:.0f}"
