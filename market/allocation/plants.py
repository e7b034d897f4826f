"""Improvement plants (改良プラント): plant operators publish their plants and treatment
lines; the instance builder turns each line into a version 2 plant; agreed deals book a
line's weekly capacity through the one guarded UPDATE here.

Services take the session, may flush, never commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from market.accounts.models import OrgKind, User
from market.allocation.models import Plant, PlantConversion, PlantLoad, Proposal
from market.catalog.models import Prefecture, SoilClass
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.orders.models import Order, OrderStatus


def conversion_ref(conversion_id: int) -> str:
    """A treatment line's id in an instance (each line is one plant there)."""
    return f"C{conversion_id}"


def conversion_id(ref: str) -> int:
    return int(ref[1:])


# --- parsing the forms -------------------------------------------------------------------


def _required(raw: str, errors: dict, name: str) -> str:
    text = (raw or "").strip()
    if not text:
        errors[name] = _("This field is required.")
    return text


def _number(raw: str, errors: dict, name: str, low: float, high: float) -> Decimal | None:
    text = (raw or "").strip().replace(",", "")
    if not text:
        errors[name] = _("This field is required.")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = _("Must be a number.")
        return None
    if not value.is_finite() or not low <= value <= high:
        errors[name] = _("Must be between %(low)s and %(high)s.", low=f"{low:g}", high=f"{high:,g}")
        return None
    return value


def _date(raw: str, errors: dict, name: str) -> dt.date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = _("Must be a date (YYYY-MM-DD).")
        return None


def _operator(user: User) -> None:
    org = user.organisation
    if org is None or org.kind != OrgKind.plant_operator:
        raise Forbidden(_("Only plant operators publish improvement plants."))


def own_plant(session: Session, user: User, plant_id: int) -> Plant:
    plant = session.get(Plant, plant_id)
    if plant is None or plant.organisation_id != user.organisation_id:
        raise NotFound(_("No such plant."))
    return plant


def save_plant(session: Session, user: User, form, plant: Plant | None = None) -> Plant:
    """Create or edit a plant from its form; every field at fault is named, nothing saved."""
    _operator(user)
    errors: dict[str, str] = {}
    name = _required(form.name, errors, "name")
    lat = _number(form.lat, errors, "lat", 20.0, 46.0)
    lon = _number(form.lon, errors, "lon", 122.0, 154.0)
    pref = (form.prefecture_code or "").strip()
    if not pref:
        errors["prefecture_code"] = _("This field is required.")
    elif session.get(Prefecture, pref) is None:
        errors["prefecture_code"] = _("Unknown prefecture code: %(v)s", v=pref[:10])
    start = _date(form.window_start, errors, "window_start")
    end = _date(form.window_end, errors, "window_end")
    if start and end and end < start:
        errors["window_end"] = _("Must be on or after the start date.")
    if errors:
        raise Invalid(errors)
    if plant is None:
        plant = Plant(organisation_id=user.organisation_id)
        session.add(plant)
    plant.name, plant.lat, plant.lon = name, float(lat), float(lon)
    plant.prefecture_code, plant.address = pref, (form.address or "").strip()
    plant.window_start, plant.window_end = start, end
    session.flush()
    return plant


def save_conversion(
    session: Session, user: User, plant: Plant, form, line: PlantConversion | None = None
) -> PlantConversion:
    """Add or edit one treatment line: from class → to class (a better one), yen per m³,
    m³ per week."""
    _operator(user)
    classes = {c.code: c for c in session.scalars(select(SoilClass))}
    errors: dict[str, str] = {}
    source = (form.from_class or "").strip()
    target = (form.to_class or "").strip()
    for name, code in (("from_class", source), ("to_class", target)):
        if not code:
            errors[name] = _("This field is required.")
        elif code not in classes:
            errors[name] = _("Unknown soil class: %(v)s", v=code[:10])
    if "from_class" not in errors and "to_class" not in errors:
        if classes[target].rank >= classes[source].rank:
            errors["to_class"] = _("Must be a better class than the soil that comes in.")
        taken = session.scalar(
            select(PlantConversion.id).where(
                PlantConversion.plant_id == plant.id,
                PlantConversion.from_class == source,
                PlantConversion.id != (line.id if line else -1),
            )
        )
        if taken is not None:
            errors["from_class"] = _("This plant already has a line for this class.")
    price = _number(form.price_per_m3, errors, "price_per_m3", 0, 1_000_000)
    if price is not None and price != price.to_integral_value():
        errors["price_per_m3"] = _("Must be a whole number of yen.")
    capacity = _number(form.weekly_capacity, errors, "weekly_capacity", 0.001, 1e9)
    if errors:
        raise Invalid(errors)
    if line is None:
        line = PlantConversion(plant=plant)
        session.add(line)
    line.from_class, line.to_class = source, target
    line.price_per_m3, line.weekly_capacity = int(price), capacity
    session.flush()
    return line


def remove_conversion(session: Session, user: User, plant: Plant, line_id: int) -> None:
    _operator(user)
    line = session.get(PlantConversion, line_id)
    if line is None or line.plant_id != plant.id:
        raise NotFound(_("No such treatment line."))
    booked = session.scalar(
        select(func.count()).where(PlantLoad.conversion_id == line.id, PlantLoad.reserved > 0)
    )
    in_play = session.scalar(
        select(func.count()).where(
            Proposal.conversion_id == line.id, Proposal.state.in_(("proposed", "agreed"))
        )
    )
    if booked or in_play:
        raise Conflict(_("Open or agreed deals go through this line; it cannot be removed."))
    session.delete(line)
    session.flush()


# --- the instance --------------------------------------------------------------------------


def instance_plants(session: Session, region: list[str], also=()) -> list[dict]:
    """Every treatment line of the region's plants as a version 2 plant (INSTANCE-v2.md):
    its own capacity per week, price and one conversion; and the lines ``also`` names
    (those of agreed flows, wherever the plant is)."""
    rows = session.execute(
        select(PlantConversion, Plant)
        .join(Plant, PlantConversion.plant_id == Plant.id)
        .where(Plant.prefecture_code.in_(region) | PlantConversion.id.in_(list(also)))
        .order_by(PlantConversion.id)
    ).all()
    plants = []
    for line, plant in rows:
        record = {
            "id": conversion_ref(line.id),
            "lat": plant.lat,
            "lon": plant.lon,
            "capacity_per_period": float(line.weekly_capacity),
            "cost_per_unit": float(line.price_per_m3),
            "converts": {line.from_class: line.to_class},
        }
        if plant.window_start or plant.window_end:
            record["window"] = [
                (plant.window_start or dt.date(2000, 1, 1)).isoformat(),
                (plant.window_end or dt.date(2999, 12, 31)).isoformat(),
            ]
        plants.append(record)
    return plants


# --- booking capacity ----------------------------------------------------------------------


def reserve(session: Session, line_id: int, week: dt.date, quantity: Decimal) -> None:
    """Book ``quantity`` m³ of a line in ``week``, or refuse (Conflict) when the week is
    full. Two deals agreed at the same moment on the last capacity of a week: each adds
    through one conditional UPDATE (``reserved + q <= capacity``); on PostgreSQL the second
    waits for the first's row lock and re-reads the row, so only one fits. The week's row
    is made first if missing (a second maker loses the unique key and uses the first's)."""
    quantity = Decimal(quantity)
    exists = session.scalar(
        select(PlantLoad.id).where(PlantLoad.conversion_id == line_id, PlantLoad.week == week)
    )
    if exists is None:
        try:
            with session.begin_nested():
                session.add(PlantLoad(conversion_id=line_id, week=week, reserved=Decimal(0)))
        except IntegrityError:
            pass  # made meanwhile by another booking
    capacity = (
        select(PlantConversion.weekly_capacity)
        .where(PlantConversion.id == PlantLoad.conversion_id)
        .scalar_subquery()
    )
    moved = session.execute(
        update(PlantLoad)
        .where(
            PlantLoad.conversion_id == line_id,
            PlantLoad.week == week,
            PlantLoad.reserved + quantity <= capacity,
        )
        .values(reserved=PlantLoad.reserved + quantity)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        line = session.get(PlantConversion, line_id)
        raise Conflict(
            _(
                "The plant “%(plant)s” is fully booked in the week of %(week)s.",
                plant=line.plant.name if line else "—",
                week=week.isoformat(),
            )
        )


def release(session: Session, line_id: int, week: dt.date, quantity: Decimal) -> None:
    """Give a booking back (its order ended before the soil was treated): one conditional
    UPDATE that never takes a week below zero."""
    quantity = Decimal(quantity)
    session.execute(
        update(PlantLoad)
        .where(
            PlantLoad.conversion_id == line_id,
            PlantLoad.week == week,
            PlantLoad.reserved >= quantity,
        )
        .values(reserved=PlantLoad.reserved - quantity)
        .execution_options(synchronize_session=False)
    )


ENDED = (OrderStatus.cancelled, OrderStatus.declined)


@event.listens_for(Session, "before_flush")
def _give_back_on_cancel(session: Session, _context, _instances) -> None:
    """An order made from a planned flow through a plant that is cancelled (or declined)
    gives the plant's week back in the same flush, whichever code path moved it."""
    for order in [o for o in session.dirty if isinstance(o, Order)]:
        if order.source != "proposal" or not (order.proposal_ref or "").startswith("proposal:"):
            continue
        history = inspect(order).attrs.status.history
        if not history.added or history.added[0] not in ENDED:
            continue
        if history.deleted and history.deleted[0] in ENDED:
            continue
        proposal = session.get(Proposal, int(order.proposal_ref.split(":", 1)[1]))
        if proposal is not None and proposal.conversion_id is not None:
            release(session, proposal.conversion_id, proposal.ship_week, order.quantity)


def booked_by_week(session: Session, plant: Plant) -> dict[dt.date, Decimal]:
    """What agreed deals have booked on the plant, all lines together, per week."""
    rows = session.execute(
        select(PlantLoad.week, func.sum(PlantLoad.reserved))
        .join(PlantConversion, PlantLoad.conversion_id == PlantConversion.id)
        .where(PlantConversion.plant_id == plant.id, PlantLoad.reserved > 0)
        .group_by(PlantLoad.week)
        .order_by(PlantLoad.week)
    ).all()
    return {week: Decimal(total) for week, total in rows}


def weekly_capacity(plant: Plant) -> Decimal:
    return sum((Decimal(c.weekly_capacity) for c in plant.conversions), Decimal(0))
