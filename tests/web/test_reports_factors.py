"""The impact arithmetic by hand: 改良トンキロ法 against REFERENCE.md's derived figures,
the empty return leg, avoided CO2 and cost saved, the SVG charts and the CSV format."""

from __future__ import annotations

import math

import pytest

from market.factors.calc import (
    StatusQuo,
    delivery_impact,
    g_co2_per_tkm,
    great_circle_km,
    haul_co2,
    litres_per_tkm,
)
from market.reports import charts
from market.reports.tables import Chart, Column, Table


def test_full_ten_tonne_truck_is_about_94_g_per_tkm():
    assert g_co2_per_tkm(1.0, 10_000) == pytest.approx(94, rel=0.03)


def test_half_loaded_ten_tonne_truck_is_about_165_g_per_tkm():
    assert g_co2_per_tkm(0.5, 10_000) == pytest.approx(165, rel=0.03)


def test_formula_is_the_published_one():
    expected = math.exp(2.71 - 0.812 * math.log(0.8) - 0.654 * math.log(4000))
    assert litres_per_tkm(0.8, 4000) == pytest.approx(expected)


def test_empty_return_leg_is_counted_as_a_half_load_over_the_round_trip():
    loaded_both_ways = haul_co2(10, 50, 10_000, empty_return=False)
    with_return = haul_co2(10, 50, 10_000)
    assert loaded_both_ways.co2_kg == pytest.approx(500 * 0.094, rel=0.03)
    assert with_return.co2_kg == pytest.approx(500 * 0.165, rel=0.03)
    assert with_return.load_ratio == pytest.approx(0.5)


def test_loads_are_split_over_as_few_trucks_as_needed():
    h = haul_co2(25, 10, 10_000)  # three trucks, each 25/30 full
    assert h.loads == 3
    assert h.load_ratio == pytest.approx(25 / 30 / 2)
    assert haul_co2(20, 10, 10_000).loads == 2  # exactly two full loads, not three


def test_small_loads_are_floored_at_the_minimum_load_ratio():
    assert litres_per_tkm(0.001, 2000) == litres_per_tkm(0.10, 2000)


def test_nothing_moved_emits_nothing_and_bad_input_is_refused():
    assert haul_co2(0, 50, 10_000).co2_kg == 0
    assert haul_co2(10, 0, 10_000).co2_kg == 0
    with pytest.raises(ValueError):
        haul_co2(-1, 5, 10_000)
    with pytest.raises(ValueError):
        litres_per_tkm(1, 0)


def test_soil_delivery_impact_by_hand():
    quo = StatusQuo(
        disposal_fee_yen_per_unit=4200,
        virgin_price_yen_per_unit=3000,
        virgin_co2_kg_per_t=2.9,
        disposal_haul_km=40,
        virgin_haul_km=30,
    )
    tonnes = 100 * 1.8
    result = delivery_impact(100, tonnes, 20, 10_000, -1500, quo)
    transport = haul_co2(tonnes, 20, 10_000).co2_kg
    replaced = haul_co2(tonnes, 70, 10_000).co2_kg
    assert result.transport_co2_kg == pytest.approx(transport)
    assert result.avoided_co2_kg == pytest.approx(tonnes * 2.9 + replaced)
    assert result.net_co2_kg == pytest.approx(tonnes * 2.9 + replaced - transport)
    assert result.net_co2_kg > 0
    assert (result.disposal_avoided_yen, result.virgin_avoided_yen) == (420_000, 300_000)
    assert result.cost_saved_yen == 720_000
    assert result.trade_value_yen == -150_000


def test_recycled_saving_is_virgin_minus_recycled():
    quo = StatusQuo(virgin_co2_kg_per_t=2000, recycled_co2_kg_per_t=500)
    result = delivery_impact(10, 10, 0, 10_000, 30_000, quo)
    assert result.avoided_co2_kg == pytest.approx(15_000)
    assert result.trade_value_yen == 300_000


def test_a_unit_without_weight_has_no_co2_but_keeps_its_money():
    result = delivery_impact(40, None, 30, 4000, 100, StatusQuo(disposal_fee_yen_per_unit=2000))
    assert result.tonnes is None and result.transport_co2_kg == 0 and result.avoided_co2_kg == 0
    assert result.disposal_avoided_yen == 80_000


def test_great_circle_tokyo_to_yokohama():
    assert great_circle_km(35.690, 139.692, 35.448, 139.643) == pytest.approx(27.3, abs=1.0)


def test_chart_escapes_labels_and_draws_every_bar():
    svg = str(charts.render("bar", ["<b>", "2026-02"], [("items", [3, 5]), ("t", [1, 0])], "T & x"))
    assert svg.startswith("<svg") and "&lt;b&gt;" in svg and "<b>" not in svg
    assert svg.count("<rect") == 4 + 2  # four bars and a two-entry legend
    line = str(charts.render("line", ["a", "b"], [("kg", [1.5, -2])], "CO2"))
    assert "<polyline" in line and line.count("<circle") == 2


def test_nice_axis_maximum():
    assert [charts.nice_max(v) for v in (0, 0.7, 3, 7, 42, 101)] == [1, 1, 5, 10, 50, 200]


def test_csv_has_bom_and_the_same_values_as_the_page():
    table = Table(
        "t",
        "T",
        [
            Column("month", "月"),
            Column("q", "m³", "qty"),
            Column("y", "円", "yen"),
            Column("kg", "kg", "kg"),
        ],
        [{"month": "2026-01", "q": 1234.5, "y": -150000, "kg": 12.345}],
        Chart("bar", "month", ("q",)),
    )
    text = table.csv()
    assert text.startswith("\ufeff")
    assert text.splitlines()[1] == "2026-01,1234.5,-150000,12.3"
    row, cols = table.rows[0], table.columns
    assert [table.shown(row, c) for c in cols] == ["2026-01", "1,234.5", "-¥150,000", "12.3"]
