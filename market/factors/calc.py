"""Pure impact arithmetic: truck CO2 by the 改良トンキロ法, avoided CO2 and cost saved.

No database and no Flask here: ``tables.py`` reads the factor tables and passes plain
numbers in, so every figure can be checked by hand (see tests/web/test_reports_factors.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TonKilo:
    """ln(L per t·km) = a − b·ln(load%/100) − c·ln(max payload kg); CO2 = L × diesel factor."""

    a: float = 2.71
    b: float = 0.812
    c: float = 0.654
    diesel_kg_co2_per_l: float = 2.58
    min_load_ratio: float = (
        0.10  # below this the fitted curve runs away; a pickup run shares the truck
    )


DEFAULT = TonKilo()


def litres_per_tkm(load_ratio: float, max_payload_kg: float, k: TonKilo = DEFAULT) -> float:
    """Fuel per tonne-kilometre of cargo at a load ratio (0–1] of a truck's payload."""
    if max_payload_kg <= 0:
        raise ValueError("max payload must be positive")
    ratio = min(1.0, max(k.min_load_ratio, load_ratio))
    return math.exp(k.a - k.b * math.log(ratio) - k.c * math.log(max_payload_kg))


def g_co2_per_tkm(load_ratio: float, max_payload_kg: float, k: TonKilo = DEFAULT) -> float:
    return 1000 * litres_per_tkm(load_ratio, max_payload_kg, k) * k.diesel_kg_co2_per_l


@dataclass(frozen=True)
class Haul:
    tonnes: float
    road_km: float
    loads: int
    load_ratio: float  # over the whole trip: halved when the truck comes back empty
    tkm: float
    litres: float
    co2_kg: float


def haul_co2(
    tonnes: float,
    road_km: float,
    max_payload_kg: float,
    *,
    empty_return: bool = True,
    k: TonKilo = DEFAULT,
) -> Haul:
    """CO2 of moving ``tonnes`` over ``road_km`` in trucks of ``max_payload_kg``.

    The loads are split evenly over as few trucks as carry them. The empty return leg is
    counted the way the 改良トンキロ法 counts any part-loaded running: the load ratio is
    averaged over the round trip (cargo t·km ÷ capacity t·km driven), so a full truck
    that comes back empty runs at 50 % — about 165 g-CO2 per cargo t·km for a 10 t dump
    instead of 94 when loaded both ways.
    """
    if tonnes < 0 or road_km < 0:
        raise ValueError("tonnes and distance cannot be negative")
    if tonnes == 0 or road_km == 0:
        return Haul(tonnes, road_km, 0, 0.0, 0.0, 0.0, 0.0)
    payload_t = max_payload_kg / 1000
    loads = max(1, math.ceil(round(tonnes / payload_t, 9)))
    ratio = tonnes / (loads * payload_t)
    if empty_return:
        ratio /= 2
    tkm = tonnes * road_km
    litres = tkm * litres_per_tkm(ratio, max_payload_kg, k)
    return Haul(tonnes, road_km, loads, ratio, tkm, litres, litres * k.diesel_kg_co2_per_l)


@dataclass(frozen=True)
class StatusQuo:
    """What each side would have paid and emitted without the trade, per unit or tonne."""

    disposal_fee_yen_per_unit: float = 0.0  # the supplier's fee to dump it (受入料)
    virgin_price_yen_per_unit: float = 0.0  # the receiver's price for new material
    virgin_co2_kg_per_t: float = 0.0  # making the new material the receiver would have bought
    recycled_co2_kg_per_t: float = 0.0  # making (processing) the reused material instead
    disposal_co2_kg_per_t: float = 0.0  # disposing of the supplier's material (e.g. incineration)
    # Road km of the runs the trade replaces: supplier → disposal site, quarry → receiver.
    disposal_haul_km: float = 0.0
    virgin_haul_km: float = 0.0


@dataclass(frozen=True)
class Impact:
    quantity: float
    tonnes: float | None  # None when the unit has no known weight (sheets, pieces)
    road_km: float
    transport_co2_kg: float
    avoided_co2_kg: float  # production, disposal and status-quo hauls avoided, before transport
    net_co2_kg: float  # avoided − transport (negative: the haul emits more than it saves)
    disposal_avoided_yen: int
    virgin_avoided_yen: int
    cost_saved_yen: int  # versus the status quo: disposal fee + virgin purchase
    trade_value_yen: int  # quantity × agreed unit price (negative: the supplier pays)


def delivery_impact(
    quantity: float,
    tonnes: float | None,
    road_km: float,
    max_payload_kg: float,
    unit_price_yen: int,
    quo: StatusQuo,
    k: TonKilo = DEFAULT,
) -> Impact:
    """The impact of one delivery of ``quantity`` units weighing ``tonnes``."""
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    weight = tonnes or 0.0
    transport = haul_co2(weight, road_km, max_payload_kg, k=k).co2_kg
    per_t = quo.virgin_co2_kg_per_t - quo.recycled_co2_kg_per_t + quo.disposal_co2_kg_per_t
    replaced_hauls = quo.disposal_haul_km + quo.virgin_haul_km
    avoided = weight * per_t + haul_co2(weight, replaced_hauls, max_payload_kg, k=k).co2_kg
    disposal = round(quantity * quo.disposal_fee_yen_per_unit)
    virgin = round(quantity * quo.virgin_price_yen_per_unit)
    return Impact(
        quantity=quantity,
        tonnes=tonnes,
        road_km=road_km,
        transport_co2_kg=transport,
        avoided_co2_kg=avoided,
        net_co2_kg=avoided - transport,
        disposal_avoided_yen=disposal,
        virgin_avoided_yen=virgin,
        cost_saved_yen=disposal + virgin,
        trade_value_yen=round(quantity * unit_price_yen),
    )


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))
