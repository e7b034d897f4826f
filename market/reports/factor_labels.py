"""The impact factor tables' families, keys and units as the factors page names them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

FACTOR_FAMILIES = {
    "transport": _l("Transport"),
    "soil": _l("Surplus soil"),
    "reuse": _l("Reuse items"),
    "recycled": _l("Recycled materials"),
    "material": _l("Construction materials"),
}
FACTOR_NAMES = {
    "default_payload_kg": _l("Usual truck payload"),
    "disposal_fee": _l("Disposal fee avoided"),
    "virgin_price": _l("Price of new material"),
    "virgin_haul_km": _l("Haul of new material"),
    "virgin_co2": _l("CO2 of making new material"),
    "recycled_co2": _l("CO2 of treating the reused soil"),
    "disposal_haul_km": _l("Haul to disposal"),
    "disposal_co2": _l("CO2 of disposal"),
    "disposal_co2_per_kg": _l("CO2 of disposal per kg"),
    "avoided_co2_per_kg": _l("CO2 avoided per kg reused"),
    "diesel_kg_co2_per_l": _l("CO2 of diesel"),
    "min_load_percent": _l("Lowest load counted"),
    "road_factor": _l("Road distance over straight line"),
    "tonkilo_a": _l("Ton-kilometre formula, coefficient a"),
    "tonkilo_b": _l("Ton-kilometre formula, coefficient b"),
    "tonkilo_c": _l("Ton-kilometre formula, coefficient c"),
}
FACTOR_UNITS = {
    "yen/unit": _l("yen per unit"),
    "yen/t": _l("yen/t"),
    "yen/m³": _l("yen/m³"),
    "yen/item": _l("yen per item"),
    "kg-CO2/kg": "kg-CO2/kg",
    "kg-CO2/t": "kg-CO2/t",
    "kg-CO2/L": "kg-CO2/L",
}
