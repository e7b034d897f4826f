"""Read side of planning over time: the latest plan's weeks, a stockyard's planned
occupancy and a plant's load by week, as the pages show them (the templates draw them with
the dashboards' ``svg_chart``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.allocation.instance import listing_ref
from market.allocation.models import MatchRun, Plant
from market.allocation.plants import booked_by_week, conversion_ref

WEEKS_SHOWN = 26


def latest_plan(session: Session, family: str = "soil") -> MatchRun | None:
    """The newest finished run of the family that planned week by week."""
    return session.scalar(
        select(MatchRun)
        .where(
            MatchRun.family == family,
            MatchRun.status == "done",
            MatchRun.horizon_weeks.is_not(None),
        )
        .order_by(MatchRun.id.desc())
        .limit(1)
    )


def week_start(run: MatchRun, period: int) -> dt.date:
    horizon = run.instance["horizon"]
    return dt.date.fromisoformat(horizon["start"]) + dt.timedelta(
        days=horizon["period_days"] * period
    )


def week_label(day: dt.date) -> str:
    """A week on a chart axis by its Monday: 1/6 in Japanese, 6 Jan in English."""
    if str(get_locale()) == "en":
        return f"{day.day} {day:%b}"
    return f"{day.month}/{day.day}"


def _weeks(run: MatchRun) -> list[dt.date]:
    return [week_start(run, k) for k in range(min(run.horizon_weeks, WEEKS_SHOWN))]


def yard_occupancy(session: Session, listing) -> dict | None:
    """A stockyard's planned occupancy per week in the latest plan (m³), with its chart;
    None when no plan has been made."""
    run = latest_plan(session)
    if run is None or not run.result:
        return None
    ref = listing_ref(listing.id)
    stock: dict[int, float] = {}
    for row in run.result.get("yard_stock", []):
        if row["yard"] == ref:
            stock[row["period"]] = stock.get(row["period"], 0.0) + row["quantity"]
    weeks = _weeks(run)
    values = [round(stock.get(k, 0.0), 3) for k in range(len(weeks))]
    return {
        "run": run,
        "labels": [week_label(w) for w in weeks],
        "series": [(_("Planned occupancy"), values)],
        "title": _("Planned occupancy by week (m³)"),
        "peak": max(values, default=0.0),
        "rows": [(w, v) for w, v in zip(weeks, values, strict=True) if v],
    }


def plant_load(session: Session, plant: Plant) -> dict:
    """A plant's load per week: what the latest plan sends it and what agreed deals have
    booked, all its lines together, with its chart."""
    run = latest_plan(session)
    refs = {conversion_ref(c.id) for c in plant.conversions}
    planned: dict[dt.date, float] = {}
    weeks: list[dt.date] = []
    if run is not None and run.result:
        weeks = _weeks(run)
        for row in run.result.get("plant_load", []):
            if row["plant"] in refs and row["period"] < len(weeks):
                week = weeks[row["period"]]
                planned[week] = planned.get(week, 0.0) + row["quantity"]
    booked = booked_by_week(session, plant)
    if not weeks:
        weeks = sorted(booked)[:WEEKS_SHOWN]
    if not weeks:
        return {"run": run, "labels": [], "rows": []}
    series = [
        (_("Planned"), [round(planned.get(w, 0.0), 3) for w in weeks]),
        (_("Booked by agreed deals"), [float(booked.get(w, Decimal(0))) for w in weeks]),
    ]
    rows = [
        (w, planned.get(w, 0.0), float(booked.get(w, Decimal(0))))
        for w in weeks
        if planned.get(w) or booked.get(w)
    ]
    return {
        "run": run,
        "labels": [week_label(w) for w in weeks],
        "series": series,
        "title": _("Load by week (m³)"),
        "rows": rows,
    }
