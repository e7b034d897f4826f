"""Read side of the dashboards: one builder per organisation kind and one for the site.

Each builder returns headline totals and the tables behind its charts; the page and the
CSV download both come from these tables. Months are Asia/Tokyo calendar months.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from market import formats
from market.accounts.models import Organisation, OrgKind
from market.accounts.queries import organisation_names
from market.catalog.models import Grade, LedgerEntry, Listing, ListingKind, Material
from market.db import to_japan
from market.orders.models import Order
from market.pickups.queries import show_rates
from market.reports import impact
from market.reports.impact import NOT_COUNTED, DeliveryImpact
from market.reports.tables import Chart, Column, Table

HAUL_BASIS = {
    "entered": _l("entered by a party"),
    "legs": _l("the transfer tickets' recorded legs"),
    "proposal": _l("matching proposal"),
    "sites": _l("listing to the counterparty's nearest site"),
    "prefecture": _l("listing to the counterparty's registered address (prefecture)"),
}
ORDER_SOURCE = {"proposal": _l("optimisation"), "listing": _l("by hand")}


@dataclass
class Dashboard:
    kind: str
    title: str
    totals: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def table(self, slug: str) -> Table | None:
        return next((t for t in self.tables if t.slug == slug), None)


def tokyo_month(moment: dt.datetime | dt.date) -> str:
    """``YYYY-MM`` in Japan: naive datetimes are UTC (as stored), dates are already local."""
    if isinstance(moment, dt.datetime):
        moment = to_japan(moment)
    return f"{moment.year:04d}-{moment.month:02d}"


def _group(
    items: Iterable[DeliveryImpact],
    key: Callable[[DeliveryImpact], object],
    measures: dict[str, Callable[[DeliveryImpact], float]],
) -> dict[object, dict[str, float]]:
    out: dict[object, dict[str, float]] = defaultdict(lambda: dict.fromkeys(measures, 0.0))
    for item in items:
        row = out[key(item)]
        for name, fn in measures.items():
            row[name] += fn(item)
    return out


def _t(d: DeliveryImpact) -> float:
    return d.impact.tonnes or 0.0


def _fmt_kg(value: float) -> str:
    return f"{formats.number(value, 0)} kg"


def _yen(value: float) -> str:
    value = int(round(value))
    return f"-¥{-value:,}" if value < 0 else f"¥{value:,}"


def _co2_columns() -> list[Column]:
    return [
        Column("transport_co2", _("Transport CO2 (kg)"), "kg"),
        Column("avoided_co2", _("CO2 avoided before transport (kg)"), "kg"),
        Column("net_co2", _("Net CO2 avoided (kg)"), "kg"),
    ]


CO2 = {
    "transport_co2": lambda d: d.impact.transport_co2_kg,
    "avoided_co2": lambda d: d.impact.avoided_co2_kg,
    "net_co2": lambda d: d.impact.net_co2_kg,
}


def order_table(session: Session, items: list[DeliveryImpact], slug: str = "orders") -> Table:
    """Per order: quantity delivered, haul, CO2 and money (the figures behind every chart)."""
    by_order = _group(
        items,
        lambda d: d.order.id,
        {
            "quantity": lambda d: d.impact.quantity,
            "tonnes": _t,
            **CO2,
            "disposal_avoided": lambda d: d.impact.disposal_avoided_yen,
            "virgin_avoided": lambda d: d.impact.virgin_avoided_yen,
            "trade_value": lambda d: d.impact.trade_value_yen,
        },
    )
    first = {}
    for d in items:
        first.setdefault(d.order.id, d)
    names = organisation_names(
        session, [o for d in first.values() for o in (d.order.seller_org_id, d.order.buyer_org_id)]
    )
    rows = []
    for order_id, figures in by_order.items():
        d = first[order_id]
        rows.append(
            {
                "order": order_id,
                "description": d.order.description,
                "seller": names.get(d.order.seller_org_id, ""),
                "buyer": names.get(d.order.buyer_org_id, ""),
                "unit": d.order.unit,
                "road_km": d.haul.road_km,
                "haul_basis": str(HAUL_BASIS.get(d.haul.method, d.haul.method)),
                "source": str(ORDER_SOURCE.get(d.order.source, d.order.source)),
                **figures,
            }
        )
    return Table(
        slug,
        _("Per order"),
        [
            Column("order", _("Order"), "int"),
            Column("description", _("Description")),
            Column("seller", _("Supplier")),
            Column("buyer", _("Receiver")),
            Column("source", _("Made by")),
            Column("quantity", _("Quantity delivered"), "qty"),
            Column("unit", _("Unit")),
            Column("tonnes", _("Tonnes"), "qty"),
            Column("road_km", _("Road km"), "qty"),
            Column("haul_basis", _("Distance from")),
            *_co2_columns(),
            Column("disposal_avoided", _("Disposal cost avoided (yen)"), "yen"),
            Column("virgin_avoided", _("Virgin purchase avoided (yen)"), "yen"),
            Column("trade_value", _("Trade value (yen)"), "yen"),
        ],
        rows,
    )


# --- municipality -----------------------------------------------------------------------


def municipality(session: Session, org: Organisation) -> Dashboard:
    items = impact.deliveries(
        session, Order.seller_org_id == org.id, Listing.kind == ListingKind.reuse_item
    )
    measures = {
        "items": lambda d: d.impact.quantity,
        "tonnes": _t,
        "revenue": lambda d: d.impact.trade_value_yen,
        "disposal_avoided": lambda d: d.impact.disposal_avoided_yen,
        **CO2,
    }
    months = _group(items, lambda d: tokyo_month(d.delivery.delivered_on), measures)
    partners = _group(items, lambda d: d.order.buyer_org_id, measures)
    rates = show_rates(session, org.id)
    names = organisation_names(session, [*partners, *rates])
    total = _group(items, lambda d: "all", measures).get("all", dict.fromkeys(measures, 0.0))
    money_cols = [
        Column("items", _("Items reused"), "qty"),
        Column("tonnes", _("Tonnes reused"), "qty"),
        Column("revenue", _("Revenue (yen)"), "yen"),
        Column("disposal_avoided", _("Disposal cost avoided (yen)"), "yen"),
        *_co2_columns(),
    ]
    month_rows = [{"month": m, **v} for m, v in sorted(months.items())]
    partner_rows = _partner_rows(partners, rates, names, measures)
    return Dashboard(
        "municipality",
        _("Reuse dashboard: %(org)s", org=org.name),
        totals=[
            (_("Items reused"), f"{total['items']:,.0f}"),
            (_("Tonnes reused"), f"{formats.number(total['tonnes'], 2)} t"),
            (_("Revenue"), _yen(total["revenue"])),
            (_("Disposal cost avoided"), _yen(total["disposal_avoided"])),
            (_("Net CO2 avoided"), _fmt_kg(total["net_co2"])),
        ],
        tables=[
            Table(
                "items_by_month",
                _("Items reused per month"),
                [Column("month", _("Month")), *money_cols],
                month_rows,
                Chart("bar", "month", ("items",), _("items")),
            ),
            Table(
                "co2_by_month",
                _("CO2 per month"),
                [Column("month", _("Month")), *_co2_columns()],
                month_rows,
                Chart("line", "month", ("avoided_co2", "net_co2"), "kg-CO2"),
            ),
            Table(
                "revenue_by_month",
                _("Revenue per month"),
                [Column("month", _("Month")), Column("revenue", _("Revenue (yen)"), "yen")],
                month_rows,
                Chart("bar", "month", ("revenue",), "¥"),
            ),
            Table(
                "by_partner",
                _("Per partner operator"),
                [
                    Column("partner", _("Partner")),
                    *money_cols,
                    Column("booked", _("Pickups booked"), "int"),
                    Column("checked_in", _("Picked up"), "int"),
                    Column("no_show", _("No-shows"), "int"),
                    Column("show_rate", _("Show rate (%)"), "pct"),
                ],
                partner_rows,
                Chart("bar", "partner", ("items",), _("items")),
            ),
            order_table(session, items),
        ],
    )


def _partner_rows(partners: dict, rates: dict, names: dict, measures: dict) -> list[dict]:
    """Per partner operator, by name: what it took, and its pickups kept or missed."""
    rows = []
    for operator_id in sorted(set(partners) | set(rates), key=lambda i: names.get(i, "")):
        figures = partners.get(operator_id, dict.fromkeys(measures, 0.0))
        rate = rates.get(operator_id)
        rows.append(
            {
                "partner": names.get(operator_id, ""),
                **figures,
                "booked": rate.booked if rate else 0,
                "checked_in": rate.checked_in if rate else 0,
                "no_show": rate.no_show if rate else 0,
                "show_rate": rate.show_rate if rate and rate.show_rate is not None else None,
            }
        )
    return rows


# --- contractor -------------------------------------------------------------------------


def contractor(session: Session, org: Organisation) -> Dashboard:
    items = impact.deliveries(
        session,
        or_(Order.seller_org_id == org.id, Order.buyer_org_id == org.id),
        Listing.kind.in_((ListingKind.soil_offer, ListingKind.soil_want)),
    )

    def side(d: DeliveryImpact, want: str) -> float:
        mine = d.order.seller_org_id if want == "supplied" else d.order.buyer_org_id
        return d.impact.quantity if mine == org.id else 0.0

    measures = {
        "supplied": lambda d: side(d, "supplied"),
        "received": lambda d: side(d, "received"),
        # Each side avoids its own status-quo cost: the supplier the disposal fee, the
        # receiver the purchase of virgin fill.
        "disposal_avoided": lambda d: d.impact.disposal_avoided_yen
        if d.order.seller_org_id == org.id
        else 0,
        "virgin_avoided": lambda d: d.impact.virgin_avoided_yen
        if d.order.buyer_org_id == org.id
        else 0,
        **CO2,
    }
    months = _group(items, lambda d: tokyo_month(d.delivery.delivered_on), measures)
    total = _group(items, lambda d: "all", measures).get("all", dict.fromkeys(measures, 0.0))
    rows = [
        {"month": m, "reused": v["supplied"] + v["received"], **v}
        for m, v in sorted(months.items())
    ]
    return Dashboard(
        "contractor",
        _("Surplus soil dashboard: %(org)s", org=org.name),
        totals=[
            (_("m³ reused"), f"{formats.number(total['supplied'] + total['received'], 1)} m³"),
            (_("m³ supplied"), f"{formats.number(total['supplied'], 1)} m³"),
            (_("m³ received"), f"{formats.number(total['received'], 1)} m³"),
            (_("Disposal cost avoided"), _yen(total["disposal_avoided"])),
            (_("Virgin fill purchase avoided"), _yen(total["virgin_avoided"])),
            (_("Net CO2 avoided"), _fmt_kg(total["net_co2"])),
        ],
        tables=[
            Table(
                "m3_by_month",
                _("m³ reused per month"),
                [
                    Column("month", _("Month")),
                    Column("supplied", _("m³ supplied"), "qty"),
                    Column("received", _("m³ received"), "qty"),
                    Column("reused", _("m³ reused"), "qty"),
                ],
                rows,
                Chart("bar", "month", ("supplied", "received"), "m³"),
            ),
            Table(
                "savings_by_month",
                _("Cost avoided per month"),
                [
                    Column("month", _("Month")),
                    Column("disposal_avoided", _("Disposal cost avoided (yen)"), "yen"),
                    Column("virgin_avoided", _("Virgin purchase avoided (yen)"), "yen"),
                ],
                rows,
                Chart("bar", "month", ("disposal_avoided", "virgin_avoided"), "¥"),
            ),
            Table(
                "co2_by_month",
                _("CO2 per month"),
                [Column("month", _("Month")), *_co2_columns()],
                rows,
                Chart("line", "month", ("transport_co2", "net_co2"), "kg-CO2"),
            ),
            order_table(session, items),
        ],
    )


# --- recycler ---------------------------------------------------------------------------


def recycler(session: Session, org: Organisation) -> Dashboard:
    items = impact.deliveries(
        session,
        Order.seller_org_id == org.id,
        Listing.kind.in_((ListingKind.recycled_offer, ListingKind.recycled_want)),
    )
    english = str(get_locale() or "ja") == "en"
    grade_names = {
        (g.material_code, g.code): g.name_en if english else g.name_ja
        for g in session.scalars(select(Grade))
    }
    material_names = {
        m.code: m.name_en if english else m.name_ja for m in session.scalars(select(Material))
    }
    measures = {"tonnes": _t, "revenue": lambda d: d.impact.trade_value_yen, **CO2}
    by_grade = _group(
        items, lambda d: (d.order.listing.material_code, d.order.listing.grade_code), measures
    )
    months = _group(items, lambda d: tokyo_month(d.delivery.delivered_on), measures)
    total = _group(items, lambda d: "all", measures).get("all", dict.fromkeys(measures, 0.0))
    grade_rows = [
        {
            "grade": f"{grade_names.get(k, k[1] or '—')}",
            "material": material_names.get(k[0], k[0] or ""),
            **v,
        }
        for k, v in sorted(by_grade.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))
    ]
    return Dashboard(
        "recycler",
        _("Recycled grades dashboard: %(org)s", org=org.name),
        totals=[
            (_("Tonnes sold"), f"{formats.number(total['tonnes'], 1)} t"),
            (_("Revenue"), _yen(total["revenue"])),
            (_("Net CO2 avoided"), _fmt_kg(total["net_co2"])),
        ],
        tables=[
            Table(
                "tonnes_by_grade",
                _("Tonnes sold by grade"),
                [
                    Column("material", _("Material")),
                    Column("grade", _("Grade")),
                    Column("tonnes", _("Tonnes sold"), "qty"),
                    Column("revenue", _("Revenue (yen)"), "yen"),
                    *_co2_columns(),
                ],
                grade_rows,
                Chart("bar", "grade", ("tonnes",), "t"),
            ),
            Table(
                "tonnes_by_month",
                _("Tonnes sold per month"),
                [
                    Column("month", _("Month")),
                    Column("tonnes", _("Tonnes sold"), "qty"),
                    Column("revenue", _("Revenue (yen)"), "yen"),
                ],
                [{"month": m, **v} for m, v in sorted(months.items())],
                Chart("line", "month", ("tonnes",), "t"),
            ),
            order_table(session, items),
        ],
    )


# --- any other organisation (reuse operators, stockyards) -------------------------------


def yard_loads(session: Session, org: Organisation) -> Table | None:
    """Loads routed through the organisation's stockyards by agreed deals, per order: what
    is still planned to pass (committed on the yard in the ledger) and what has passed."""
    rows = session.execute(
        select(
            LedgerEntry.order_id,
            Listing.title,
            Order.seller_org_id,
            Order.buyer_org_id,
            Order.status,
            Order.unit,
            func.sum(LedgerEntry.committed_change),
            func.sum(LedgerEntry.delivered_change),
        )
        .join(Listing, Listing.id == LedgerEntry.listing_id)
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(Listing.organisation_id == org.id, Listing.kind == ListingKind.stockyard)
        .group_by(
            LedgerEntry.order_id,
            Listing.title,
            Order.seller_org_id,
            Order.buyer_org_id,
            Order.status,
            Order.unit,
        )
        .order_by(LedgerEntry.order_id)
    ).all()
    if not rows:
        return None
    names = organisation_names(session, [r[2] for r in rows] + [r[3] for r in rows])
    return Table(
        "yard_loads",
        _("Loads through your stockyards"),
        [
            Column("order", _("Order"), "int"),
            Column("yard", _("Stockyard")),
            Column("incoming_from", _("Incoming from")),
            Column("outgoing_to", _("Outgoing to")),
            Column("planned", _("Still to pass"), "qty"),
            Column("passed", _("Passed"), "qty"),
            Column("unit", _("Unit")),
        ],
        [
            {
                "order": order_id,
                "yard": title,
                "incoming_from": names.get(seller, ""),
                "outgoing_to": names.get(buyer, ""),
                "planned": float(planned or 0),
                "passed": float(passed or 0),
                "unit": unit,
            }
            for order_id, title, seller, buyer, _status, unit, planned, passed in rows
        ],
    )


def organisation(session: Session, org: Organisation) -> Dashboard:
    items = impact.deliveries(
        session, or_(Order.seller_org_id == org.id, Order.buyer_org_id == org.id)
    )
    measures = {"deliveries": lambda d: 1, "tonnes": _t, **CO2}
    months = _group(items, lambda d: tokyo_month(d.delivery.delivered_on), measures)
    total = _group(items, lambda d: "all", measures).get("all", dict.fromkeys(measures, 0.0))
    yard = yard_loads(session, org)
    through_yards = []
    if yard is not None:
        through_yards = [
            (_("Planned through your stockyards"), f"{sum(r['planned'] for r in yard.rows):,.1f}"),
            (_("Passed through your stockyards"), f"{sum(r['passed'] for r in yard.rows):,.1f}"),
        ]
    return Dashboard(
        "organisation",
        _("Dashboard: %(org)s", org=org.name),
        totals=[
            (_("Deliveries"), f"{total['deliveries']:,.0f}"),
            (_("Tonnes moved"), f"{formats.number(total['tonnes'], 2)} t"),
            (_("Net CO2 avoided"), _fmt_kg(total["net_co2"])),
            *through_yards,
        ],
        tables=[
            *([yard] if yard is not None else []),
            Table(
                "tonnes_by_month",
                _("Tonnes per month"),
                [
                    Column("month", _("Month")),
                    Column("deliveries", _("Deliveries"), "int"),
                    Column("tonnes", _("Tonnes"), "qty"),
                    *_co2_columns(),
                ],
                [{"month": m, **v} for m, v in sorted(months.items())],
                Chart("bar", "month", ("tonnes",), "t"),
            ),
            order_table(session, items),
        ],
    )


# --- the site ---------------------------------------------------------------------------


def site(session: Session) -> Dashboard:
    items = impact.deliveries(session)
    measures = {
        "deliveries": lambda d: 1,
        "tonnes": _t,
        "cost_saved": lambda d: d.impact.cost_saved_yen,
        **CO2,
    }
    families = _group(items, lambda d: d.family, measures)
    total = _group(items, lambda d: "all", measures).get("all", dict.fromkeys(measures, 0.0))
    orders = session.execute(
        select(Order.source, Order.created_at).where(Order.status.not_in(NOT_COUNTED))
    ).all()
    matches: dict[str, dict[str, float]] = defaultdict(lambda: {"optimisation": 0, "manual": 0})
    for source, created in orders:
        matches[tokyo_month(created)]["optimisation" if source == "proposal" else "manual"] += 1
    delivered = _group(items, lambda d: d.order.source, {"tonnes": _t})
    n_opt = sum(m["optimisation"] for m in matches.values())
    n_manual = sum(m["manual"] for m in matches.values())
    return Dashboard(
        "site",
        _("Site dashboard"),
        totals=[
            (_("Deliveries"), f"{total['deliveries']:,.0f}"),
            (_("Tonnes moved"), f"{formats.number(total['tonnes'], 1)} t"),
            (_("Cost saved versus the status quo"), _yen(total["cost_saved"])),
            (_("Net CO2 avoided"), _fmt_kg(total["net_co2"])),
            (_("Orders from optimisation"), f"{n_opt:,}"),
            (_("Orders made by hand"), f"{n_manual:,}"),
            (
                _("Tonnes delivered from optimisation"),
                f"{formats.number(delivered.get('proposal', {'tonnes': 0})['tonnes'], 1)} t",
            ),
        ],
        tables=[
            Table(
                "by_family",
                _("Totals per material family"),
                [
                    Column("family", _("Family")),
                    Column("deliveries", _("Deliveries"), "int"),
                    Column("tonnes", _("Tonnes"), "qty"),
                    Column("cost_saved", _("Cost saved (yen)"), "yen"),
                    *_co2_columns(),
                ],
                [{"family": _family_label(f), **v} for f, v in sorted(families.items())],
                Chart("bar", "family", ("tonnes",), "t"),
            ),
            Table(
                "matches_by_month",
                _("Orders per month: optimisation vs manual"),
                [
                    Column("month", _("Month")),
                    Column("optimisation", _("From optimisation"), "int"),
                    Column("manual", _("Made by hand"), "int"),
                ],
                [{"month": m, **v} for m, v in sorted(matches.items())],
                Chart("bar", "month", ("optimisation", "manual"), _("orders")),
            ),
        ],
    )


def _family_label(family: str) -> str:
    return {
        "soil": _("Surplus soil"),
        "material": _("Construction materials"),
        "reuse": _("Reuse goods"),
        "recycled": _("Recycled grades"),
        "stockyard": _("Stockyards"),
    }.get(family, family)


BUILDERS = {
    OrgKind.municipality: municipality,
    OrgKind.contractor: contractor,
    OrgKind.recycler: recycler,
}


def for_organisation(session: Session, org: Organisation) -> Dashboard:
    return BUILDERS.get(org.kind, organisation)(session, org)
